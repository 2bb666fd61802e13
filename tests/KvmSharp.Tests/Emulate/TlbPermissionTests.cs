using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// The TLB folds the access rights into per-access, per-privilege tags when an entry is filled: an entry
/// filled by one kind of access must not let another through that the page tables refuse (SDM vol 3 §4.6).
/// No IDT is set up, so a page fault ends the run in a shutdown with CR2 naming the address.
/// </summary>
public class TlbPermissionTests
{
    private const ulong PageDirectory = 0x4000, Code = 0x8000, Data = 0x40_0000;

    private static CpuCore Create(GuestMemory memory, out CpuState cpu, uint dataPageFlags, Assembler program)
    {
        var core = BareCpu.Create(new PhysicalMemory(memory), out cpu, Code);
        memory.Write(new GuestAddress(PageDirectory), 0x87u);                          // 0–4 MiB: user, writable
        memory.Write(new GuestAddress(PageDirectory + 4), (uint)Data | dataPageFlags); // 4–8 MiB: the data page
        BareCpu.Write(memory, Code, program);
        cpu.Cr4 = 0x10;   // PSE
        cpu.Cr3 = PageDirectory;
        cpu.Cr0 = 0x8000_0011;   // PG, ET, PE; WP clear
        core.Mmu.FlushTlb();
        return core;
    }

    [Fact]
    public void ReadOnlyPageTakesSupervisorWritesOnlyWhileWriteProtectIsClear()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var program = new Assembler(32);
        program.mov(eax, __dword_ptr[(uint)Data]);     // fills the entry by a read
        program.mov(__dword_ptr[(uint)Data], 0x11);    // WP clear: a supervisor write to a read-only page is allowed
        program.mov(eax, cr0);
        program.or(eax, 1 << 16);                      // WP
        program.mov(cr0, eax);
        program.mov(eax, __dword_ptr[(uint)Data]);
        program.mov(__dword_ptr[(uint)Data], 0x22);    // now #PF
        program.hlt();
        var core = Create(memory, out var cpu, 0x81, program);   // present, large, read-only, supervisor

        Assert.Equal(CoreStop.Shutdown, core.Run());
        Assert.Equal(Data, cpu.Cr2);
        Assert.Equal(0x11u, memory.Read<uint>(new GuestAddress(Data)));
    }

    [Fact]
    public void SupervisorPageFilledAtCplZeroFaultsAUserReadWithoutAFlush()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var program = new Assembler(32);
        program.mov(eax, __dword_ptr[(uint)Data]);
        program.hlt();
        var core = Create(memory, out var cpu, 0x83, program);   // present, large, writable, supervisor
        memory.Write(new GuestAddress(Data), 0x1234u);

        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal(0x1234UL, cpu.Gpr[CpuState.Rax]);

        // The same code again at CPL 3 (the code page is a user page), the TLB left as it is.
        cpu.Segments.Set(CpuState.Cs, Segment.Flat(BareCpu.CodeSelector | 3, 0xB, code64: false) with { Dpl = 3 });
        cpu.Gpr[CpuState.Rax] = 0;
        cpu.Rip = Code;
        core.Wake();
        Assert.Equal(CoreStop.Shutdown, core.Run());
        Assert.Equal(Data, cpu.Cr2);
        Assert.Equal(0UL, cpu.Gpr[CpuState.Rax]);
    }
}
