using Iced.Intel;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Translate;
using KvmSharp.Memory;
using KvmSharp.Native.X86;

namespace KvmSharp.Tests.Emulate.Translate;

/// <summary>
/// A bare 64-bit CPU with 4-level paging (SDM vol 3 §4.5) over the first 16 MiB, identity-mapped with 2 MiB pages
/// except 2–4 MiB (<see cref="SmallPages"/>), mapped with 4 KiB pages so a test can leave one out or make it
/// read-only. Exceptions go through 64-bit interrupt gates to handlers that are one HLT each at
/// <see cref="Handlers"/> + vector; vector 0x20 (a timer) counts into <see cref="TickCounter"/> and returns.
/// </summary>
public sealed class LongModeRig : IDisposable
{
    public const ulong Gdt = 0x1000, Idt = 0x2000, Handlers = 0x3000, TimerHandler = 0x3100, Tss = 0x4000, TickCounter = 0x5000;
    public const ulong Pml4 = 0x10000, Pdpt = 0x11000, Pd = 0x12000, Pt = 0x13000;
    public const ulong Stack = 0x90000, Code = 0x100000, Data = 0x180000, SmallPages = 0x200000;
    public const ushort CodeSelector = 0x08, DataSelector = 0x10, TssSelector = 0x18;
    public const int TimerVector = 0x20;

    public LongModeRig(TranslatorMode mode)
    {
        Memory = GuestMemory.Create(16 << 20);
        Physical = new PhysicalMemory(Memory);
        Cpu = new CpuState();
        Core = new CpuCore(Cpu, Physical, new EmulatedCpuModel(0, 1), mode);

        var code = Segment.Flat(CodeSelector, 0xB, code64: true);
        var data = Segment.Flat(DataSelector, 0x3, code64: false);
        Write64(Gdt + CodeSelector, code.ToDescriptor());
        Write64(Gdt + DataSelector, data.ToDescriptor());
        Write64(Tss + 4, Stack);   // RSP0
        for (int vector = 0; vector < 32; vector++)
        {
            Memory.Write(new GuestAddress(Handlers + (ulong)vector), (byte)0xF4);
            Gate(vector, Handlers + (ulong)vector);
        }
        var timer = new Assembler(64);
        timer.inc(AssemblerRegisters.__qword_ptr[(long)TickCounter]);
        timer.iretq();
        BareCpu.Write(Memory, TimerHandler, timer);
        Gate(TimerVector, TimerHandler);

        Write64(Pml4, Pdpt | 0x3);
        Write64(Pdpt, Pd | 0x3);
        for (ulong i = 0; i < 8; i++) Write64(Pd + i * 8, i << 21 | 0x83);   // 2 MiB pages, present, writable
        Write64(Pd + 8, Pt | 0x3);
        for (ulong i = 0; i < 512; i++) Write64(Pt + i * 8, (SmallPages + (i << 12)) | 0x3);

        for (int s = 0; s < 6; s++) Cpu.Segments.Set(s, data);
        Cpu.Segments.Set(CpuState.Cs, code);
        Cpu.Gdt = new DescriptorTable { Base = Gdt, Limit = 0xFF };
        Cpu.Idt = new DescriptorTable { Base = Idt, Limit = 0x30 * 16 - 1 };
        Cpu.Tr = new Segment { Base = Tss, Limit = 0x67, Selector = TssSelector, Type = 0xB, Present = 1 };
        Cpu.Cr3 = Pml4;
        Cpu.Cr4 = 0x20;   // PAE
        Cpu.Efer = SpecialRegisters.EferLongModeEnable | SpecialRegisters.EferLongModeActive;
        Cpu.Cr0 = 0x8001_0011;   // PG, WP, ET, PE
        Cpu.Segments.Set(CpuState.Cs, code);   // the mode values follow CS once long mode is active
        Core.Mmu.FlushTlb();
        Cpu.Gpr[CpuState.Rsp] = Stack;
        Cpu.Rip = Code;
    }

    public GuestMemory Memory { get; }
    public PhysicalMemory Physical { get; }
    public CpuState Cpu { get; }
    public CpuCore Core { get; }

    /// <summary>Maps (or, with <paramref name="present"/> false, unmaps) one 4 KiB page of <see cref="SmallPages"/>.</summary>
    public void SetSmallPage(ulong address, bool present, bool writable = true)
    {
        ulong index = (address - SmallPages) >> 12;
        Write64(Pt + index * 8, (address & ~0xFFFUL) | (present ? 1UL : 0) | (writable ? 2UL : 0));
        Core.Mmu.FlushTlb();
    }

    public void Load(Assembler program, ulong at = Code) => BareCpu.Write(Memory, at, program);

    public void Write64(ulong address, ulong value) => Memory.Write(new GuestAddress(address), value);

    public ulong Read64(ulong address) => BareCpu.Read64(Memory, address);

    /// <summary>The 64-bit interrupt gate for <paramref name="vector"/> (SDM vol 3 §6.14.1): present, DPL 0, no IST.</summary>
    private void Gate(int vector, ulong handler)
    {
        ulong low = (handler & 0xFFFF) | ((ulong)CodeSelector << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48);
        Write64(Idt + (ulong)vector * 16, low);
        Write64(Idt + (ulong)vector * 16 + 8, handler >> 32);
    }

    public void Dispose()
    {
        Core.TranslatorMode = TranslatorMode.Off;   // releases the code cache now
        Memory.Dispose();
    }
}

/// <summary>A timer for a bare core: a poll every <paramref name="period"/> instructions, and from the second poll on an interrupt (vector 0x20) each time.</summary>
public sealed class TickEvents(ulong period) : ICpuEvents
{
    private int _polls;
    private bool _pending;

    public int Delivered { get; private set; }

    public ulong PollTimers()
    {
        if (++_polls > 1) _pending = true;
        return period;
    }

    public bool UrgentPending => false;

    public bool MayHaveInterrupt => _pending;

    public CpuEvent Take(bool interruptible, bool nmiBlocked, out byte vector)
    {
        vector = 0;
        if (!_pending || !interruptible) return CpuEvent.None;
        _pending = false;
        Delivered++;
        vector = LongModeRig.TimerVector;
        return CpuEvent.Interrupt;
    }
}
