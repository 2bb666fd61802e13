using Iced.Intel;
using KvmSharp.Accelerators;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>
/// A 32-bit paged guest that keeps every part of a vCPU and its platform busy, for save/restore tests: a
/// periodic local APIC timer (vector 0x40) and the PIT through IOAPIC pin 2 (vector 0x41) count their interrupts
/// at <see cref="ApicTicks"/> and <see cref="PitTicks"/>; the main loop scatters pseudo-random stores over a
/// 64 KiB buffer, keeps x87 (ST0 += 1) and SSE (XMM0 += XMM1) state in registers, reads the TSC, and leaves the
/// CPU once per round by OUT 0xE9 (the round), every 8th round also by IN 0xE8, and every 16th by an MMIO read
/// of 0xD0000010 and an MMIO write to 0xD0000020.
/// </summary>
internal static class SnapshotGuest
{
    public const ulong MemorySize = 4 << 20;
    public const uint Code = 0x1000, Gdt = 0x500, Idt = 0x3000, PageDirectory = 0x4000, Stack = 0x8000, Buffer = 0x10000;
    public const uint ApicTicks = 0x2000, PitTicks = 0x2004, InSum = 0x2010, MmioSum = 0x2014, LastTsc = 0x2018, Constants = 0x2040;
    public const byte OutPort = 0xE9, InPort = 0xE8;
    public const uint MmioRead = 0xD000_0010, MmioWrite = 0xD000_0020;
    private const uint Apic = 0xFEE0_0000, IoApic = 0xFEC0_0000;

    /// <summary>Builds the guest in <paramref name="memory"/> and points vCPU 0 at it (paging on, interrupts off until its STI).</summary>
    public static void Load(GuestMemory memory, IVcpu vcpu, int innerRounds = 300)
    {
        for (int i = 0; i < TinyGuest.FlatGdt.Length; i++) memory.Write(new GuestAddress(Gdt + (ulong)i * 8), TinyGuest.FlatGdt[i]);
        // 4 MiB pages (PSE): RAM at 0, the MMIO window at 0xD0000000, the IOAPIC and LAPIC page at 0xFEC00000.
        // Accessed and dirty are preset, so walks never write the page directory.
        const uint large = 0x83 | 0x20 | 0x40;
        memory.Write(new GuestAddress(PageDirectory), 0u | large);
        memory.Write(new GuestAddress(PageDirectory + (0xD000_0000 >> 22) * 4), 0xD000_0000u | large);
        memory.Write(new GuestAddress(PageDirectory + (IoApic >> 22) * 4), IoApic | large);
        memory.Write(new GuestAddress(Constants), [.. BitConverter.GetBytes(1.5f), .. BitConverter.GetBytes(-0.25f), .. BitConverter.GetBytes(3f), .. BitConverter.GetBytes(0.125f)]);

        byte[] code = Assemble(innerRounds, out uint handler40, out uint handler41);
        memory.Write(new GuestAddress(Code), code);
        memory.Write(new GuestAddress(Idt + 0x40 * 8), TinyGuest.InterruptGate(handler40));
        memory.Write(new GuestAddress(Idt + 0x41 * 8), TinyGuest.InterruptGate(handler41));

        TinyGuest.StartFlat32(vcpu, Code, Gdt, Idt, 0x42 * 8 - 1);
        vcpu.GetSpecialRegisters(out var s);
        s.Cr3 = PageDirectory;
        s.Cr4 |= 1 << 4 | SpecialRegisters.Cr4OsFxsr | SpecialRegisters.Cr4OsXmmExcpt;   // PSE, SSE enabled
        s.Cr0 |= SpecialRegisters.Cr0Paging | SpecialRegisters.Cr0MonitorCoprocessor | SpecialRegisters.Cr0NumericError;
        vcpu.SetSpecialRegisters(s);
        vcpu.SetRegisters(new Registers { Rip = Code, Rflags = Registers.FlagsReserved, Rsp = Stack });
    }

    private static byte[] Assemble(int innerRounds, out uint handler40, out uint handler41)
    {
        var a = new Assembler(32);
        var loop = a.CreateLabel();
        var inner = a.CreateLabel();
        var skipIn = a.CreateLabel();
        var skipMmio = a.CreateLabel();
        var h40 = a.CreateLabel();
        var h41 = a.CreateLabel();

        a.mov(__dword_ptr[Apic + 0xF0], 0x1FFu);          // SVR: software-enabled
        a.mov(__dword_ptr[Apic + 0x3E0], 0xBu);           // divide by 1
        a.mov(__dword_ptr[Apic + 0x320], 0x2_0040u);      // periodic, vector 0x40
        a.mov(__dword_ptr[Apic + 0x380], 50_000u);        // every 50 µs of guest time
        a.mov(__dword_ptr[IoApic], 0x14u);                // redirection entry 2 (ISA IRQ 0): vector 0x41, fixed, edge
        a.mov(__dword_ptr[IoApic + 0x10], 0x41u);
        a.mov(__dword_ptr[IoApic], 0x15u);
        a.mov(__dword_ptr[IoApic + 0x10], 0u);
        a.mov(al, 0x34);                                  // PIT counter 0: LSB then MSB, mode 2
        a.@out(0x43, al);
        a.mov(al, 0xA9);                                  // 1193: about 1 ms
        a.@out(0x40, al);
        a.mov(al, 0x04);
        a.@out(0x40, al);
        a.fninit();
        a.fld1();
        a.fld1();
        a.movups(xmm1, __xmmword_ptr[Constants]);
        a.xorps(xmm0, xmm0);
        a.xor(ebx, ebx);
        a.mov(esi, 12345);
        a.sti();

        a.Label(ref loop);
        a.mov(ecx, innerRounds);
        a.Label(ref inner);
        a.imul(esi, esi, 1103515245);
        a.add(esi, 12345);
        a.mov(eax, esi);
        a.shr(eax, 16);
        a.and(eax, 0xFFFC);
        a.mov(__dword_ptr[eax + (int)Buffer], esi);
        a.dec(ecx);
        a.jnz(inner);
        a.fadd(st0, st1);
        a.addps(xmm0, xmm1);
        a.inc(ebx);
        a.mov(eax, ebx);
        a.@out(OutPort, eax);
        a.test(bl, 7);
        a.jnz(skipIn);
        a.@in(eax, InPort);
        a.add(__dword_ptr[InSum], eax);
        a.Label(ref skipIn);
        a.test(bl, 15);
        a.jnz(skipMmio);
        a.mov(eax, __dword_ptr[MmioRead]);
        a.add(__dword_ptr[MmioSum], eax);
        a.mov(__dword_ptr[MmioWrite], ebx);
        a.Label(ref skipMmio);
        a.rdtsc();
        a.mov(__dword_ptr[LastTsc], eax);
        a.jmp(loop);

        a.Label(ref h40);
        a.inc(__dword_ptr[ApicTicks]);
        a.mov(__dword_ptr[Apic + 0xB0], 0u);               // EOI
        a.iretd();
        a.Label(ref h41);
        a.inc(__dword_ptr[PitTicks]);
        a.mov(__dword_ptr[Apic + 0xB0], 0u);
        a.iretd();

        var stream = new MemoryStream();
        var result = a.Assemble(new StreamCodeWriter(stream), Code, BlockEncoderOptions.ReturnNewInstructionOffsets);
        handler40 = (uint)result.GetLabelRIP(h40);
        handler41 = (uint)result.GetLabelRIP(h41);
        return stream.ToArray();
    }
}

/// <summary>
/// Plays the devices for <see cref="SnapshotGuest"/>: answers its IN and MMIO reads with values that follow
/// from how many exits came before, and records every exit as a line, so two runs can be compared exit by exit.
/// </summary>
internal sealed class SnapshotGuestDriver
{
    public long Exits { get; private set; }

    public List<string> Log { get; } = [];

    public SnapshotGuestDriver Clone()
    {
        var copy = new SnapshotGuestDriver { Exits = Exits };
        return copy;
    }

    /// <summary>Runs until <paramref name="count"/> more exits have been answered; with <paramref name="stopAt"/>, further until one of that kind.</summary>
    public VcpuExitReason RunExits(IVcpu vcpu, int count, VcpuExitReason? stopAt = null)
    {
        for (int n = 0; ; )
        {
            var exit = vcpu.Run();
            switch (exit.Reason)
            {
                case VcpuExitReason.IoOut:
                case VcpuExitReason.MmioWrite:
                    Log.Add($"{exit.Reason} 0x{exit.Address:x} {Convert.ToHexString(exit.Data)}");
                    break;
                case VcpuExitReason.IoIn:
                case VcpuExitReason.MmioRead:
                    BitConverter.TryWriteBytes(exit.Data, (ulong)Exits * 0x9E37_79B9 + exit.Address);
                    Log.Add($"{exit.Reason} 0x{exit.Address:x} -> {Convert.ToHexString(exit.Data)}");
                    break;
                default:
                    Assert.Fail($"unexpected exit {exit.Reason} after {Exits} exits: {exit.Message}");
                    break;
            }
            Exits++;
            n++;
            if (n >= count && (stopAt is null || exit.Reason == stopAt)) return exit.Reason;
        }
    }
}
