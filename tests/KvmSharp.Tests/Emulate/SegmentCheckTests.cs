using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// VERR, VERW, LAR and LSL at CPL 0 in 32-bit protected mode against descriptors whose answers follow from
/// the SDM's pages for those instructions: ZF says whether the selector passes, and only then LAR/LSL write
/// their destination. (Linux runs VERW on every return to user mode.)
/// </summary>
public class SegmentCheckTests
{
    private const ulong Code = 0x10000, Results = 0x20000;

    // Descriptors added to BareCpu's GDT (SDM vol 3 §3.4.5): selector → raw descriptor.
    private const ushort ReadOnlyData = 0x18, ExecuteOnlyCode = 0x20, NotPresentData = 0x28, Ldt = 0x30, InterruptGate = 0x38;
    private const ulong ReadOnlyDescriptor = 0x00CF_9100_0000_FFFF;      // data, read-only, DPL 0, G, D, limit 0xFFFFF
    private const ulong ExecuteOnlyDescriptor = 0x0040_9800_0000_1234;   // code, execute-only, byte granular, limit 0x1234
    private const ulong NotPresentDescriptor = 0x0040_1300_0000_00FF;    // data RW, P = 0, limit 0xFF
    private const ulong LdtDescriptor = 0x0000_8200_0000_0FFF;           // LDT, limit 0xFFF
    private const ulong GateDescriptor = 0x0000_8E00_0008_0000;          // 32-bit interrupt gate: no limit, no rights to report

    public static TheoryData<string, ushort, bool, uint> Cases => new()
    {
        // VERR: data segments and readable code pass; VERW: writable data only. P is not checked.
        { "verr", BareCpu.DataSelector, true, 0 },
        { "verw", BareCpu.DataSelector, true, 0 },
        { "verr", BareCpu.CodeSelector, true, 0 },          // code, execute/read
        { "verw", BareCpu.CodeSelector, false, 0 },
        { "verr", ReadOnlyData, true, 0 },
        { "verw", ReadOnlyData, false, 0 },
        { "verr", ExecuteOnlyCode, false, 0 },
        { "verw", NotPresentData, true, 0 },
        { "verr", 0, false, 0 },                            // null selector
        { "verr", 0x100, false, 0 },                        // past the GDT limit
        { "verr", Ldt, false, 0 },                          // a system descriptor
        // LSL: the limit in bytes (granularity applied); LAR: descriptor bits masked with 0x00FxFF00.
        { "lsl", BareCpu.DataSelector, true, 0xFFFF_FFFF },
        { "lsl", ExecuteOnlyCode, true, 0x1234 },
        { "lsl", Ldt, true, 0xFFF },
        { "lsl", InterruptGate, false, 0xDEAD },            // destination unchanged
        { "lar", ReadOnlyData, true, 0x00C0_9100 },         // limit bits 19:16 are not rights (zero, as QEMU)
        { "lar", NotPresentData, true, 0x0040_1300 },
        { "lar", InterruptGate, false, 0xDEAD },
        { "lar", 0, false, 0xDEAD },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void SelectorChecksFollowTheSdm(string instruction, ushort selector, bool zf, uint destination)
    {
        using var memory = GuestMemory.Create(4 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, Code);
        foreach (var (at, descriptor) in new[] { (ReadOnlyData, ReadOnlyDescriptor), (ExecuteOnlyCode, ExecuteOnlyDescriptor),
                     (NotPresentData, NotPresentDescriptor), (Ldt, LdtDescriptor), (InterruptGate, GateDescriptor) })
            memory.Write(new GuestAddress(BareCpu.Gdt + at), descriptor);

        var a = new Assembler(32);
        a.mov(ecx, (uint)selector);
        a.mov(eax, 0xDEADu);
        a.xor(edx, edx);   // ZF = 1 before: a failing check must clear it
        switch (instruction)
        {
            case "verr": a.verr(cx); break;
            case "verw": a.verw(cx); break;
            case "lsl": a.lsl(eax, ecx); break;
            default: a.lar(eax, ecx); break;
        }
        a.pushfd();
        a.pop(ebx);
        a.hlt();
        BareCpu.Write(memory, Code, a);

        Assert.Equal(CoreStop.Halt, core.Run());
        Assert.Equal(zf, (cpu.Gpr[CpuState.Rbx] & 0x40) != 0);
        if (instruction is "lsl" or "lar") Assert.Equal(destination, (uint)cpu.Gpr[CpuState.Rax]);
    }
}
