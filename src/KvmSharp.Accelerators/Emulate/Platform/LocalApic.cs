using KvmSharp.Accelerators.Emulate.Cpu;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>What a local APIC needs from the vCPU it belongs to: a way to make it look at its interrupts now.</summary>
public interface IApicOwner
{
    /// <summary>Something changed (an interrupt, NMI, INIT or SIPI arrived): check at the next block boundary, and wake if halted.</summary>
    void Signal();
}

/// <summary>
/// The local APIC of one vCPU in xAPIC mode (SDM vol 3 ch. 10): the register page at IA32_APIC_BASE,
/// IRR/ISR/TMR and the priority rules, IPIs through the ICR, the LVTs and the timer. All state is
/// guarded by the platform lock: other vCPUs' IPIs and the IOAPIC reach it from their own threads.
/// </summary>
public sealed partial class LocalApic
{
    public const ulong DefaultBase = 0xFEE0_0000;

    /// <summary>Version register: integrated APIC (0x14), max LVT entry 5 (timer, thermal, perf, LINT0, LINT1, error).</summary>
    public const uint Version = 0x0005_0014;

    private const uint LvtMasked = 1u << 16;
    private const int LvtTimer = 0, LvtThermal = 1, LvtPerf = 2, LvtLint0 = 3, LvtLint1 = 4, LvtError = 5;

    private readonly CpuState _cpu;
    private readonly EmulatedPlatform _platform;
    private readonly uint[] _irr = new uint[8], _isr = new uint[8], _tmr = new uint[8];
    private readonly uint[] _lvt = new uint[6];
    private uint _tpr, _ldr, _dfr, _svr, _esr, _pendingErrors, _icrLow, _icrHigh;
    private IApicOwner? _owner;

    // NMI, INIT and SIPI wait here until the vCPU takes them; read without the lock on the vCPU's fast path.
    private volatile bool _nmiPending, _initPending, _mayHaveInterrupt;
    private int _startupVector = -1;

    public LocalApic(int id, CpuState cpu, EmulatedPlatform platform)
    {
        Id = (byte)id;
        _cpu = cpu;
        _platform = platform;
        Timer = new ApicTimer(this);
        Reset(bootstrap: id == 0);
    }

    public byte Id { get; }

    public ApicTimer Timer { get; }

    internal EmulatedPlatform Platform => _platform;

    /// <summary>While true the vCPU waits for a STARTUP IPI (after INIT, and for application processors from power-on).</summary>
    public bool WaitingForStartup { get; private set; }

    public void Attach(IApicOwner owner) => _owner = owner;

    /// <summary>IA32_APIC_BASE bit 11: the APIC is on (SDM vol 3 §10.4.3). Off, the page is not decoded and the 8259 reaches the CPU directly.</summary>
    public bool GloballyEnabled => (_cpu.ApicBase & (1UL << 11)) != 0;

    public ulong BaseAddress => _cpu.ApicBase & 0xF_FFFF_F000;

    /// <summary>SVR bit 8 (SDM vol 3 §10.9).</summary>
    public bool SoftwareEnabled => (_svr & 0x100) != 0;

    public byte TaskPriority => (byte)_tpr;

    /// <summary>The power-up / INIT state of the registers (SDM vol 3 §10.4.7.1).</summary>
    private void Reset(bool bootstrap)
    {
        Array.Clear(_irr);
        Array.Clear(_isr);
        Array.Clear(_tmr);
        for (int i = 0; i < _lvt.Length; i++) _lvt[i] = LvtMasked;
        // As KVM does for the bootstrap processor: LINT0 in ExtINT mode, so the 8259 reaches the BSP
        // through its APIC until the guest programs it (the BIOS would have).
        if (bootstrap) _lvt[LvtLint0] = (uint)ApicDeliveryMode.ExtInt << 8;
        (_tpr, _ldr, _dfr, _svr, _esr, _pendingErrors, _icrLow, _icrHigh) = (0, 0, 0xFFFF_FFFF, 0xFF, 0, 0, 0, 0);
        Timer.Reset();
        WaitingForStartup = !bootstrap;
    }

    // ---- what the vCPU asks ---------------------------------------------------------------------

    /// <summary>NMI or INIT is waiting (read without the lock on the vCPU's fast path).</summary>
    public bool UrgentPending => _nmiPending || _initPending;

    /// <summary>An interrupt may be deliverable once RFLAGS.IF allows (read without the lock).</summary>
    public bool MayHaveInterrupt => _mayHaveInterrupt;

    /// <summary>
    /// The event the CPU takes now, if any: INIT, then NMI (unless blocked until IRET), then — when
    /// <paramref name="interruptible"/> — the highest pending vector above the processor priority
    /// (SDM vol 3 §10.8.3), which moves from IRR to ISR; or the 8259's vector through LINT0.
    /// </summary>
    public CpuEvent Take(bool interruptible, bool nmiBlocked, out byte vector)
    {
        vector = 0;
        lock (_platform.Lock)
        {
            if (_initPending)
            {
                _initPending = false;
                return CpuEvent.Init;
            }
            if (_nmiPending && !nmiBlocked)
            {
                _nmiPending = false;
                vector = 2;
                return CpuEvent.Nmi;
            }
            if (!interruptible) return CpuEvent.None;
            if (AcceptsExternalInterrupts && _platform.Chipset is { InterruptRequested: true } chipset)
            {
                vector = chipset.Acknowledge();
                _platform.ExternalInterruptChanged();
                return CpuEvent.Interrupt;
            }
            int highest = DeliverableVector();
            if (highest < 0)
            {
                _mayHaveInterrupt = false;
                return CpuEvent.None;
            }
            Clear(_irr, highest);
            Set(_isr, highest);
            vector = (byte)highest;
            return CpuEvent.Interrupt;
        }
    }

    /// <summary>Whether a halted CPU wakes now: INIT, NMI, or (with IF set) an interrupt it would take.</summary>
    public bool CanWake(bool interruptible)
    {
        if (UrgentPending) return true;
        if (!interruptible) return false;
        lock (_platform.Lock)
            return DeliverableVector() >= 0 || (AcceptsExternalInterrupts && _platform.Chipset is { InterruptRequested: true });
    }

    /// <summary>The STARTUP vector once a SIPI arrived while waiting for one; the vCPU leaves the wait-for-SIPI state.</summary>
    public bool TryTakeStartup(out byte vector)
    {
        lock (_platform.Lock)
        {
            vector = (byte)Math.Max(0, _startupVector);
            if (_startupVector < 0) return false;
            _startupVector = -1;
            _initPending = false;
            WaitingForStartup = false;
            return true;
        }
    }

    /// <summary>LINT0 in ExtINT mode, or the APIC globally off: the 8259's INTR goes to the CPU (SDM vol 3 §10.5.1; KVM's rule).</summary>
    public bool AcceptsExternalInterrupts
    {
        get
        {
            uint lint0 = _lvt[LvtLint0];
            return !GloballyEnabled || ((lint0 & LvtMasked) == 0 && ((lint0 >> 8) & 7) == (uint)ApicDeliveryMode.ExtInt);
        }
    }

    /// <summary>Tells the vCPU to look again (under the lock or not).</summary>
    internal void Signal()
    {
        _mayHaveInterrupt = true;
        _owner?.Signal();
    }

    // ---- what the bus delivers (under the platform lock) ----------------------------------------

    /// <summary>Accepts an interrupt message for this APIC (SDM vol 3 §10.6.1 delivery modes).</summary>
    internal void Accept(ApicDeliveryMode mode, byte vector, bool levelTriggered)
    {
        if (!GloballyEnabled) return;
        switch (mode)
        {
            case ApicDeliveryMode.Fixed:
            case ApicDeliveryMode.LowestPriority:
                // A software-disabled APIC takes only NMI, INIT, SMI and SIPI (SDM vol 3 §10.4.7.2).
                if (SoftwareEnabled) RequestVector(vector, levelTriggered);
                break;
            case ApicDeliveryMode.Nmi:
                _nmiPending = true;
                Signal();
                break;
            case ApicDeliveryMode.Init:
                Reset(bootstrap: false);
                _initPending = true;
                WaitingForStartup = true;
                Signal();
                break;
            case ApicDeliveryMode.StartUp:
                // Only a CPU waiting for SIPI takes it; a second SIPI to a running CPU is ignored (SDM vol 3 §8.4.4.1).
                if (WaitingForStartup && _startupVector < 0)
                {
                    _startupVector = vector;
                    Signal();
                }
                break;
            case ApicDeliveryMode.ExtInt:
                Signal();
                break;
            // SMI: no system-management mode here; dropped.
        }
    }

    /// <summary>Sets IRR (and TMR for level-triggered vectors); vectors 0–15 are illegal (SDM vol 3 §10.5.3, "Received Illegal Vector").</summary>
    internal void RequestVector(byte vector, bool levelTriggered)
    {
        if (vector < 16)
        {
            RecordError(1u << 6);
            return;
        }
        Set(_irr, vector);
        if (levelTriggered) Set(_tmr, vector); else Clear(_tmr, vector);
        Signal();
    }

    // ---- priorities (SDM vol 3 §10.8.3.1) --------------------------------------------------------

    private uint ProcessorPriority
    {
        get
        {
            int isrv = Highest(_isr);
            uint isrClass = isrv < 0 ? 0 : (uint)isrv & 0xF0;
            return (_tpr & 0xF0) >= isrClass ? _tpr & 0xFF : isrClass;
        }
    }

    /// <summary>The highest IRR vector whose priority class is above the PPR's, or -1.</summary>
    private int DeliverableVector()
    {
        if (!GloballyEnabled) return -1;   // a software-disabled APIC still holds and delivers IRR (SDM vol 3 §10.4.7.2)
        int highest = Highest(_irr);
        if (highest < 0) return -1;
        return ((uint)highest & 0xF0) > (ProcessorPriority & 0xF0) ? highest : -1;
    }

    /// <summary>EOI: the highest in-service vector is done; a level-triggered one is told to the IOAPIC (SDM vol 3 §10.8.5).</summary>
    private void EndOfInterrupt()
    {
        int vector = Highest(_isr);
        if (vector < 0) return;
        Clear(_isr, vector);
        if (Test(_tmr, vector)) _platform.Chipset?.EndOfInterrupt((byte)vector);
        Signal();
    }

    private void RecordError(uint bit)
    {
        _pendingErrors |= bit;
        uint lvt = _lvt[LvtError];
        if ((lvt & LvtMasked) == 0) RequestVector((byte)lvt, levelTriggered: false);
    }

    internal static int Highest(uint[] bits)
    {
        for (int word = 7; word >= 0; word--)
            if (bits[word] != 0) return word * 32 + 31 - System.Numerics.BitOperations.LeadingZeroCount(bits[word]);
        return -1;
    }

    private static void Set(uint[] bits, int vector) => bits[vector >> 5] |= 1u << (vector & 31);

    private static void Clear(uint[] bits, int vector) => bits[vector >> 5] &= ~(1u << (vector & 31));

    private static bool Test(uint[] bits, int vector) => (bits[vector >> 5] & (1u << (vector & 31))) != 0;
}
