namespace KvmSharp.Accelerators.Emulate.Platform;

// The xAPIC register page (SDM vol 3 §10.4.1, table 10-1): 32-bit registers on 16-byte boundaries.
public sealed partial class LocalApic
{
    private const int RegId = 0x20, RegVersion = 0x30, RegTpr = 0x80, RegApr = 0x90, RegPpr = 0xA0, RegEoi = 0xB0,
        RegLdr = 0xD0, RegDfr = 0xE0, RegSvr = 0xF0, RegIsr = 0x100, RegTmr = 0x180, RegIrr = 0x200, RegEsr = 0x280,
        RegIcrLow = 0x300, RegIcrHigh = 0x310, RegLvtTimer = 0x320, RegLvtError = 0x370, RegInitialCount = 0x380,
        RegCurrentCount = 0x390, RegDivide = 0x3E0;

    /// <summary>Whether <paramref name="address"/> falls in this APIC's page (only while globally enabled).</summary>
    public bool Decodes(ulong address) => GloballyEnabled && address - BaseAddress < 0x1000;

    /// <summary>Reads a register; any size inside one 32-bit register gives its bytes, other offsets read 0.</summary>
    public ulong ReadMmio(ulong address, int size)
    {
        int offset = (int)(address & 0xFFF);
        ulong value = ReadRegister(offset & ~0xF);
        int shift = (offset & 3) * 8;
        if ((offset & 0xF) >= 4) return 0;
        value >>= shift;
        return size >= 4 ? value & 0xFFFF_FFFF : value & ((1UL << (size * 8)) - 1);
    }

    /// <summary>Writes a register; only aligned 32-bit (or wider) writes count, as on hardware the others are undefined.</summary>
    public void WriteMmio(ulong address, int size, ulong value)
    {
        int offset = (int)(address & 0xFFF);
        if ((offset & 0xF) != 0 || size < 4) return;
        WriteRegister(offset, (uint)value);
    }

    private uint ReadRegister(int offset)
    {
        switch (offset)
        {
            case RegId: return (uint)Id << 24;
            case RegVersion: return Version;
            case RegTpr: return _tpr;
            case RegApr: return 0;   // arbitration priority: lowest-priority delivery chooses by TPR here
            case RegPpr: return ProcessorPriority;
            case RegLdr: return _ldr;
            case RegDfr: return _dfr;
            case RegSvr: return _svr;
            case >= RegIsr and < RegTmr: return _isr[(offset - RegIsr) >> 4];
            case >= RegTmr and < RegIrr: return _tmr[(offset - RegTmr) >> 4];
            case >= RegIrr and < RegEsr: return _irr[(offset - RegIrr) >> 4];
            case RegEsr: return _esr;
            case RegIcrLow: return _icrLow & ~(1u << 12);   // delivery status: always idle, IPIs are sent at once
            case RegIcrHigh: return _icrHigh;
            case >= RegLvtTimer and <= RegLvtError: return _lvt[(offset - RegLvtTimer) >> 4];
            case RegInitialCount: return Timer.InitialCount;
            case RegCurrentCount: return Timer.CurrentCount(_platform.Clock.Nanoseconds);
            case RegDivide: return Timer.DivideConfiguration;
            default: return 0;
        }
    }

    private void WriteRegister(int offset, uint value)
    {
        switch (offset)
        {
            case RegTpr:
                _tpr = value & 0xFF;
                Signal();   // a lower priority may let a held interrupt through
                break;
            case RegEoi: EndOfInterrupt(); break;
            case RegLdr: _ldr = value & 0xFF00_0000; break;
            case RegDfr: _dfr = value | 0x0FFF_FFFF; break;
            case RegSvr:
                _svr = value & 0x1FF;   // no EOI-broadcast suppression (version bit 24 is clear) and no focus checking
                if (!SoftwareEnabled)
                    for (int i = 0; i < _lvt.Length; i++) _lvt[i] |= LvtMasked;   // SDM vol 3 §10.4.7.2
                Signal();
                break;
            case RegEsr:
                // A write latches the errors seen since the last write (SDM vol 3 §10.5.3).
                _esr = _pendingErrors;
                _pendingErrors = 0;
                break;
            case RegIcrLow:
                _icrLow = value & 0x000C_CFFF;
                _platform.Bus.SendInterProcessor(this, _icrLow, (byte)(_icrHigh >> 24));
                break;
            case RegIcrHigh: _icrHigh = value & 0xFF00_0000; break;
            case >= RegLvtTimer and <= RegLvtError when (offset & 0xF) == 0:
                WriteLvt((offset - RegLvtTimer) >> 4, value);
                break;
            case RegInitialCount: Timer.SetInitialCount(value, _platform.Clock.Nanoseconds); _platform.DeadlinesChanged(); break;
            case RegDivide: Timer.SetDivideConfiguration(value, _platform.Clock.Nanoseconds); _platform.DeadlinesChanged(); break;
        }
    }

    /// <summary>Writable LVT bits per entry (SDM vol 3 figure 10-8); the mask stays set while software-disabled.</summary>
    private void WriteLvt(int index, uint value)
    {
        uint writable = index switch
        {
            LvtTimer => 0x7_00FF,       // vector, mask, timer mode (bits 17–18)
            LvtLint0 or LvtLint1 => 0x1_A7FF, // vector, delivery mode, polarity, trigger, mask
            LvtError => 0x1_00FF,
            _ => 0x1_07FF,              // thermal, perf: vector, delivery mode, mask
        };
        value &= writable;
        if (!SoftwareEnabled) value |= LvtMasked;
        _lvt[index] = value;
        if (index == LvtTimer)
        {
            Timer.SetMode((value >> 17) & 3);
            _platform.DeadlinesChanged();
        }
        if (index == LvtLint0) _platform.ExternalInterruptChanged();
    }

    /// <summary>The timer's LVT entry: vector in bits 0–7, mask in bit 16.</summary>
    internal uint TimerLvt => _lvt[LvtTimer];

    /// <summary>The logical destination check (SDM vol 3 §10.6.2.2): flat model or cluster model by DFR.</summary>
    internal bool MatchesLogical(byte destination)
    {
        byte logicalId = (byte)(_ldr >> 24);
        if ((_dfr >> 28) == 0xF) return (logicalId & destination) != 0;
        if (destination == 0xFF) return true;
        return (logicalId >> 4) == (destination >> 4) && (logicalId & destination & 0xF) != 0;
    }
}
