using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// Block links and the jump cache (blocks by virtual RIP) must never hand out a block that no longer is the
/// code at CS:RIP: a store into the code drops it, and a CR3 reload (a new translation for the same virtual
/// address) makes every cached translation miss. Each loop calls the same routine from the same block
/// twice, so the second call is served by a link or the jump cache unless they were invalidated.
/// </summary>
public class BlockChainTests
{
    private const ulong Code = 0x8000, Routine = 0xA000;

    [Fact]
    public void StoreIntoCalledCodeIsSeenByTheNextCall()
    {
        using var memory = GuestMemory.Create(2 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, Code);
        memory.Write(new GuestAddress(Routine), new byte[] { 0x40, 0xC3 });   // inc eax; ret
        var program = new Assembler(32);
        var loop = program.CreateLabel();
        program.xor(eax, eax);
        program.xor(ebx, ebx);
        program.mov(ecx, 3);
        program.Label(ref loop);
        program.call(Routine);
        program.add(ebx, eax);
        program.mov(__byte_ptr[(uint)Routine], 0x48);   // inc eax → dec eax
        program.dec(ecx);
        program.jnz(loop);
        program.hlt();
        BareCpu.Write(memory, Code, program);

        Assert.Equal(CoreStop.Halt, core.Run());
        // eax: 1, 0, -1; ebx sums them. Stale code would give 1, 2, 3 (sum 6).
        Assert.Equal(0xFFFF_FFFFUL, cpu.Gpr[CpuState.Rax]);
        Assert.Equal(0UL, cpu.Gpr[CpuState.Rbx]);
    }

    [Fact]
    public void Cr3ReloadIsSeenByTheNextCallToTheSameVirtualAddress()
    {
        const ulong pageDirectory = 0x4000, pageTable = 0x5000, virtualRoutine = 0x40_0000, first = 0x20_0000, second = 0x20_1000;
        using var memory = GuestMemory.Create(4 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, Code);
        memory.Write(new GuestAddress(pageDirectory), 0x83u);                         // 0–4 MiB: identity, 4 MiB page
        memory.Write(new GuestAddress(pageDirectory + 4), (uint)pageTable | 3u);      // 4–8 MiB: a page table
        memory.Write(new GuestAddress(pageTable), (uint)first | 3u);                  // 4 MiB → the first routine
        memory.Write(new GuestAddress(first), new byte[] { 0xB8, 1, 0, 0, 0, 0xC3 });  // mov eax, 1; ret
        memory.Write(new GuestAddress(second), new byte[] { 0xB8, 2, 0, 0, 0, 0xC3 }); // mov eax, 2; ret
        var program = new Assembler(32);
        var loop = program.CreateLabel();
        program.xor(ebx, ebx);
        program.mov(ecx, 2);
        program.Label(ref loop);
        program.call((uint)virtualRoutine);
        program.add(ebx, eax);
        program.mov(__dword_ptr[(uint)pageTable], (uint)second | 3u);   // remap the routine's page …
        program.mov(edx, cr3);
        program.mov(cr3, edx);                                          // … and reload CR3
        program.dec(ecx);
        program.jnz(loop);
        program.hlt();
        BareCpu.Write(memory, Code, program);
        cpu.Cr4 = 0x10;   // PSE
        cpu.Cr3 = pageDirectory;
        cpu.Cr0 = 0x8000_0011;
        core.Mmu.FlushTlb();

        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal(3UL, cpu.Gpr[CpuState.Rbx]);   // 1 + 2; a stale block or translation gives 1 + 1
    }
}
