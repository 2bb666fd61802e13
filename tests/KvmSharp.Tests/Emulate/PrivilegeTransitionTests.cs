using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// Ring 3 → ring 0 → ring 3 with the kernel's structures on supervisor-only pages, as an OS maps them:
/// the CPU's own reads of the IDT, GDT and TSS, and the pushes onto the ring-0 stack, are supervisor-mode
/// accesses whatever the CPL (SDM vol 3 §4.6.1); so is IRET's load of the ring-3 SS descriptor. A CPU that
/// made them as user accesses would fault during delivery and end in a triple fault.
/// </summary>
public class PrivilegeTransitionTests
{
    // 0–4 MiB: supervisor only (GDT, IDT, TSS, kernel stack, handlers). 4–8 MiB: user (code, stack).
    private const ulong Idt = 0x2000, Tss = 0x2800, PageDirectory = 0x4000, Handlers = 0x5000, KernelStack = 0x8000;
    private const ulong UserCode = 0x40_0000, UserStack = 0x40_8000;
    private const ushort UserCodeSelector = 0x18 | 3, UserDataSelector = 0x20 | 3, TssSelector = 0x28;

    [Fact]
    public void RingThreeEntersTheKernelThroughSupervisorOnlyStructuresAndReturns()
    {
        using var memory = GuestMemory.Create(16 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, UserCode);
        var userCode = Segment.Flat(UserCodeSelector, 0xB, code64: false);
        var userData = Segment.Flat(UserDataSelector, 0x3, code64: false);
        userCode.Dpl = userData.Dpl = 3;
        memory.Write(new GuestAddress(BareCpu.Gdt + 0x18), userCode.ToDescriptor());
        memory.Write(new GuestAddress(BareCpu.Gdt + 0x20), userData.ToDescriptor());
        // 32-bit TSS: ESP0 at +4, SS0 at +8 (SDM vol 3 §8.2.1).
        memory.Write(new GuestAddress(Tss + 4), (uint)KernelStack);
        memory.Write(new GuestAddress(Tss + 8), (uint)BareCpu.DataSelector);
        // INT 0x80 and 0x81: 32-bit interrupt gates with DPL 3, so ring 3 may use them.
        for (int n = 0; n < 2; n++)
        {
            ulong handler = Handlers + (ulong)n * 0x100;
            ulong gate = (handler & 0xFFFF) | ((ulong)BareCpu.CodeSelector << 16) | (0xEEUL << 40) | ((handler >> 16 & 0xFFFF) << 48);
            memory.Write(new GuestAddress(Idt + (0x80UL + (ulong)n) * 8), gate);
        }
        memory.Write(new GuestAddress(PageDirectory), 0x83u);                      // present, writable, 4 MiB, supervisor
        memory.Write(new GuestAddress(PageDirectory + 4), 0x40_0000u | 0x87u);     // present, writable, 4 MiB, user

        var syscall = new Assembler(32);
        syscall.mov(eax, 0x1234);   // the "system call" result, returned to ring 3 by IRET
        syscall.iretd();
        BareCpu.Write(memory, Handlers, syscall);
        var stop = new Assembler(32);
        stop.hlt();
        BareCpu.Write(memory, Handlers + 0x100, stop);
        var user = new Assembler(32);
        user.@int(0x80);
        user.mov(ebx, eax);
        user.@int(0x81);
        BareCpu.Write(memory, UserCode, user);

        cpu.Segments.Set(CpuState.Cs, userCode);
        foreach (int s in new[] { CpuState.Ss, CpuState.Ds, CpuState.Es }) cpu.Segments.Set(s, userData);
        cpu.Gpr[CpuState.Rsp] = UserStack;
        cpu.Idt = new DescriptorTable { Base = Idt, Limit = 0x7FF };
        cpu.Tr = new Segment { Selector = TssSelector, Base = Tss, Limit = 0x67, Type = 0xB, Present = 1 };
        cpu.Cr4 = 0x10;            // PSE
        cpu.Cr3 = PageDirectory;
        cpu.Cr0 = 0x8001_0011;     // PG, WP, ET, PE
        core.Mmu.FlushTlb();

        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal(0x1234UL, cpu.Gpr[CpuState.Rbx]);            // came back to ring 3 with the result
        Assert.Equal(0, cpu.Cpl);                                  // halted in the ring-0 handler of INT 0x81
        Assert.Equal((ulong)UserStack, BareCpu.Read64(memory, KernelStack - 8) & 0xFFFF_FFFF);   // ESP pushed by the ring change
    }
}
