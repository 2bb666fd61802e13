using Iced.Intel;
using KvmSharp.Machine.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Guests;

/// <summary>
/// A multiboot guest that uses its local APIC the way an OS does, printing a line per step: the timer
/// in periodic mode (HLT between ticks, 5 ticks), one-shot mode (one HLT woken by it),
/// a self-IPI through the ICR, TSC-deadline mode (3 deadlines armed through IA32_TSC_DEADLINE), and last the TSC
/// (low 32 bits) so that a deterministic run can be compared with another.
/// </summary>
internal static class ApicTimerGuest
{
    public const ushort DebugExitPort = 0xF4;
    public const int ExitStatus = (0x11 << 1) | 1;

    /// <summary>
    /// The lines before the TSC line. The first three are what QEMU 7.2 TCG prints for the same image
    /// (<c>-M microvm,accel=tcg</c>, see SystemGuestTests); its TCG APIC has no TSC-deadline mode (the
    /// guest waits forever there), so the deadline line follows SDM vol 3 §10.5.4.1 alone.
    /// </summary>
    public const string ExpectedOutputStart =
        "periodic 00000005\n" +
        "one-shot 00000001 count 00000000\n" +
        "self-ipi 00000001\n" +
        "deadline 00000003 msr 00000000\n";

    private const uint Apic = 0xFEE0_0000, Eoi = Apic + 0xB0, Svr = Apic + 0xF0, IcrLow = Apic + 0x300, LvtTimer = Apic + 0x320,
        InitialCount = Apic + 0x380, CurrentCount = Apic + 0x390, DivideConfiguration = Apic + 0x3E0;
    private const uint Idt = 0x3000, Counters = 0x2000, Stack = 0x90000;
    private const byte FirstVector = 0x40;   // 0x40 periodic, 0x41 deadline, 0x42 IPI, 0x43 one-shot: each counts at Counters + 4*(v-0x40)

    public static byte[] Build() => MultibootFlatImage.Build((a, data) =>
    {
        var puts = a.CreateLabel();
        var putHex = a.CreateLabel();
        var handlers = new uint[4];
        for (int i = 0; i < handlers.Length; i++) handlers[i] = data.Add(Handler(data.NextAddress, Counters + 4 * (uint)i));
        uint idtPointer = data.Add([0xFF, 0x07, .. BitConverter.GetBytes(Idt)]);

        a.mov(esp, Stack);
        // Interrupt gates for the four vectors: offset 15..0 | selector << 16, then offset 31..16 | P, DPL 0, type 0xE.
        a.xor(ebx, ebx);
        a.mov(bx, cs);
        a.shl(ebx, 16);
        for (int i = 0; i < handlers.Length; i++)
        {
            uint gate = Idt + (FirstVector + (uint)i) * 8;
            a.mov(eax, handlers[i]);
            a.mov(edx, eax);
            a.and(eax, 0xFFFF);
            a.or(eax, ebx);
            a.mov(__dword_ptr[gate], eax);
            a.and(edx, 0xFFFF_0000u);
            a.or(edx, 0x8E00);
            a.mov(__dword_ptr[gate + 4], edx);
        }
        a.lidt(__fword_ptr[idtPointer]);
        a.mov(__dword_ptr[Svr], 0x1FFu);                 // software-enable, spurious vector 0xFF

        // Periodic: divide by 1, 100 µs at the 1 GHz bus clock (QEMU's is 1 GHz too).
        var periodic = a.CreateLabel();
        a.mov(__dword_ptr[DivideConfiguration], 0xBu);
        a.mov(__dword_ptr[LvtTimer], 0x2_0000u | FirstVector);
        a.mov(__dword_ptr[InitialCount], 100_000u);
        a.Label(ref periodic);
        a.sti();
        a.hlt();
        a.cli();
        a.cmp(__dword_ptr[Counters], 5);
        a.jb(periodic);
        a.mov(__dword_ptr[LvtTimer], 0x1_0000u);       // masked, and stopped
        a.mov(__dword_ptr[InitialCount], 0u);
        PrintCounter(a, data, puts, putHex, "periodic ", Counters);
        a.mov(esi, data.AddString("\n"));
        a.call(puts);

        // One-shot: a single HLT, woken by the expiry; the current count then reads 0.
        var oneShot = a.CreateLabel();
        a.mov(__dword_ptr[LvtTimer], FirstVector + 3u);
        a.mov(__dword_ptr[InitialCount], 200_000u);
        a.Label(ref oneShot);
        a.sti();
        a.hlt();
        a.cli();
        a.cmp(__dword_ptr[Counters + 12], 1);
        a.jb(oneShot);
        PrintCounter(a, data, puts, putHex, "one-shot ", Counters + 12);
        a.mov(esi, data.AddString(" count "));
        a.call(puts);
        a.mov(eax, __dword_ptr[CurrentCount]);
        a.call(putHex);
        a.mov(esi, data.AddString("\n"));
        a.call(puts);

        // Self-IPI (shorthand "self", fixed, vector 0x42): taken once IF is set.
        var wait = a.CreateLabel();
        var taken = a.CreateLabel();
        a.mov(__dword_ptr[IcrLow], 0x4_0000u | (FirstVector + 2u));
        a.mov(ecx, 1000);
        a.sti();
        a.Label(ref wait);
        a.cmp(__dword_ptr[Counters + 8], 0);
        a.jne(taken);
        a.dec(ecx);
        a.jnz(wait);
        a.Label(ref taken);
        a.cli();
        PrintCounter(a, data, puts, putHex, "self-ipi ", Counters + 8);
        a.mov(esi, data.AddString("\n"));
        a.call(puts);

        // TSC-deadline: arm 50 µs ahead, HLT, three times; the MSR reads 0 once the deadline fired (SDM vol 3 §10.5.4.1).
        var deadline = a.CreateLabel();
        a.mov(__dword_ptr[LvtTimer], 0x4_0000u | (FirstVector + 1u));
        a.Label(ref deadline);
        a.rdtsc();
        a.add(eax, 50_000);
        a.adc(edx, 0);
        a.mov(ecx, 0x6E0);
        a.wrmsr();
        a.sti();
        a.hlt();
        a.cli();
        a.cmp(__dword_ptr[Counters + 4], 3);
        a.jb(deadline);
        PrintCounter(a, data, puts, putHex, "deadline ", Counters + 4);
        a.mov(esi, data.AddString(" msr "));
        a.call(puts);
        a.mov(ecx, 0x6E0);
        a.rdmsr();
        a.call(putHex);

        a.mov(esi, data.AddString("\ntsc "));
        a.call(puts);
        a.rdtsc();
        a.call(putHex);
        a.mov(esi, data.AddString("\n"));
        a.call(puts);
        TinyGuests.EmitDebugExit(a, DebugExitPort, 0x11);

        TinyGuests.EmitPuts(a, puts);
        TinyGuests.EmitPutHex(a, putHex);
    });

    /// <summary>An interrupt handler placed in the data area (its address goes into the IDT): count, EOI, IRET.</summary>
    private static byte[] Handler(uint address, uint counter)
    {
        var a = new Assembler(32);
        a.inc(__dword_ptr[counter]);
        a.mov(__dword_ptr[Eoi], 0u);
        a.iretd();
        var code = new MemoryStream();
        a.Assemble(new StreamCodeWriter(code), address);
        return code.ToArray();
    }

    private static void PrintCounter(Assembler a, MultibootFlatImage.DataArea data, Label puts, Label putHex, string name, uint counter)
    {
        a.mov(esi, data.AddString(name));
        a.call(puts);
        a.mov(eax, __dword_ptr[counter]);
        a.call(putHex);
    }
}
