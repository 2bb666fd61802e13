using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// A read-modify-write instruction whose write faults restarts with the state it started with (SDM vol 3
/// §6.5: a fault is reported before the instruction, so the restarted instruction must see the flags as
/// they were). ADC reads CF, so an emulator that kept the flags of the faulted attempt adds the wrong
/// carry on the retry. The data page is read-only with CR0.WP set; the #PF handler makes it writable and
/// returns to the instruction. Run once through the pre-decoded (micro-op) path and once through the
/// generic one (a LOCK prefix keeps an instruction off the micro-op path).
/// </summary>
public class FaultRestartTests
{
    private const ulong Idt = 0x2000, Handler = 0x3000, PageDirectory = 0x4000, Code = 0x10000;
    private const ulong Data = 0x40_0000;   // the second 4 MiB page: read-only until the handler fixes it

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void AdcToReadOnlyPageRestartsWithTheOriginalCarry(bool locked)
    {
        const uint initial = 5, expected = 7;   // 5 + EAX(1) + CF(1); a retry that saw CF=0 would give 6
        using var memory = GuestMemory.Create(16 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, Code);
        // #PF: a 32-bit interrupt gate, present, DPL 0 (SDM vol 3 §6.11).
        ulong gate = (Handler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((Handler >> 16 & 0xFFFF) << 48);
        memory.Write(new GuestAddress(Idt + 14 * 8), gate);
        // 4 MiB pages (CR4.PSE): the first writable, the second (the data) read-only (SDM vol 3 §4.3).
        memory.Write(new GuestAddress(PageDirectory), 0x83u);
        memory.Write(new GuestAddress(PageDirectory + 4), (uint)Data | 0x81u);
        memory.Write(new GuestAddress(Data), initial);

        var handler = new Assembler(32);
        handler.or(__dword_ptr[(uint)PageDirectory + 4], 2);
        handler.push(ecx);
        handler.mov(ecx, cr3);
        handler.mov(cr3, ecx);
        handler.pop(ecx);
        handler.add(esp, 4);   // the error code
        handler.iretd();
        BareCpu.Write(memory, Handler, handler);

        var program = new Assembler(32);
        program.mov(eax, 1);
        program.stc();
        if (locked) program.@lock.adc(__dword_ptr[(uint)Data], eax);
        else program.adc(__dword_ptr[(uint)Data], eax);
        program.hlt();
        BareCpu.Write(memory, Code, program);

        cpu.Idt = new DescriptorTable { Base = Idt, Limit = 0x7FF };
        cpu.Cr4 = 0x10;                       // PSE
        cpu.Cr3 = PageDirectory;
        cpu.Cr0 = 0x8001_0011;                // PG, WP, ET, PE
        core.Mmu.FlushTlb();

        Assert.Equal(CoreStop.Halt, core.Run());
        Span<byte> result = stackalloc byte[4];
        memory.Read(new GuestAddress(Data), result);
        Assert.Equal(expected, BitConverter.ToUInt32(result));
        Assert.Equal(Data, cpu.Cr2);   // the fault really happened, at the data page
        Assert.False(cpu.Flags.Carry);
    }

    [Fact]
    public void AnInstructionRunningIntoANotPresentPageFaultsOnThatPageAndThenRuns()
    {
        // MOV EAX, imm32 (5 bytes) from 3 bytes before the end of the first 4 MiB page: its last 2 bytes are in the
        // second page, which is not present until the #PF handler maps it. The fetch must fault there (CR2 = 4 MiB,
        // SDM vol 3 §6.15), not decode a cut-off instruction as invalid.
        const ulong start = Data - 3;
        using var memory = GuestMemory.Create(16 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, Code);
        ulong gate = (Handler & 0xFFFF) | (0x08UL << 16) | (0x8EUL << 40) | ((Handler >> 16 & 0xFFFF) << 48);
        memory.Write(new GuestAddress(Idt + 14 * 8), gate);
        memory.Write(new GuestAddress(PageDirectory), 0x83u);
        memory.Write(new GuestAddress(PageDirectory + 4), (uint)Data | 0x82u);   // not present
        memory.Write(new GuestAddress(start), new byte[] { 0xB8, 0x78, 0x56, 0x34, 0x12, 0xF4 });

        var handler = new Assembler(32);
        handler.or(__dword_ptr[(uint)PageDirectory + 4], 1);
        handler.push(ecx);
        handler.mov(ecx, cr3);
        handler.mov(cr3, ecx);
        handler.pop(ecx);
        handler.add(esp, 4);
        handler.iretd();
        BareCpu.Write(memory, Handler, handler);
        var program = new Assembler(32);
        program.mov(ecx, (uint)start);
        program.jmp(ecx);
        BareCpu.Write(memory, Code, program);

        cpu.Idt = new DescriptorTable { Base = Idt, Limit = 0x7FF };
        cpu.Cr4 = 0x10;
        cpu.Cr3 = PageDirectory;
        cpu.Cr0 = 0x8001_0011;
        core.Mmu.FlushTlb();

        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal(Data, cpu.Cr2);
        Assert.Equal(0x1234_5678UL, cpu.Gpr[0] & 0xFFFF_FFFF);
    }
}
