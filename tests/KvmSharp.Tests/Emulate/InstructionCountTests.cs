using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// Instructions are counted per block, not one by one; the count (the clock of --icount) must still be
/// exact wherever it can be seen: at a block's end, at an MMIO exit in the middle of a block (the MMIO
/// instruction has not retired: it runs again with the value), and after the retried instruction.
/// </summary>
public class InstructionCountTests
{
    private const ulong Code = 0x8000;

    [Fact]
    public void CountIsExactAtAnMmioExitInsideABlockAndAfterIt()
    {
        using var memory = GuestMemory.Create(2 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, Code);
        var program = new Assembler(32);
        program.mov(ebx, 1);
        program.add(ebx, ebx);
        program.shl(ebx, 3);
        program.mov(eax, __dword_ptr[0xFEC0_0000u]);   // above the 2 MiB of RAM: an MMIO read (no platform owns it here)
        program.add(eax, ebx);
        program.hlt();
        BareCpu.Write(memory, Code, program);

        Assert.Equal(CoreStop.MmioRead, core.Run());
        Assert.Equal(3UL, core.InstructionsRetired);   // the three before it; the MMIO read has not retired
        core.CompleteMmioRead(0x100);
        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal(6UL, core.InstructionsRetired);
        Assert.Equal(0x110UL, cpu.Gpr[CpuState.Rax]);
    }
}
