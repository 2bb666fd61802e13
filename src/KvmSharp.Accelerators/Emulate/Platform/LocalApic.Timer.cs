using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The local APIC timer (SDM vol 3 §10.5.4): one-shot and periodic counting at the APIC bus clock
/// divided by the divide configuration, or TSC-deadline mode (§10.5.4.1) through IA32_TSC_DEADLINE.
/// The bus clock is 1 GHz, as in KVM, so one count is one guest nanosecond before the divider.
/// </summary>
public sealed class ApicTimer(LocalApic apic) : ITimedDevice
{
    public const uint ModeOneShot = 0, ModePeriodic = 1, ModeTscDeadline = 2;

    private uint _mode, _divideConfiguration;
    private long _start, _period, _deadline = long.MaxValue;
    private ulong _tscDeadline;

    public uint InitialCount { get; private set; }

    public uint DivideConfiguration => _divideConfiguration;

    public long NextDeadline => _deadline;

    /// <summary>Bus cycles per count: DCR bits 0, 1, 3 give 2, 4, 8, 16, 32, 64, 128, 1 (SDM vol 3 figure 10-10).</summary>
    private long Divisor
    {
        get
        {
            uint code = ((_divideConfiguration & 8) >> 1) | (_divideConfiguration & 3);
            return 1L << (int)((code + 1) & 7);
        }
    }

    internal void Reset()
    {
        (_mode, _divideConfiguration, InitialCount, _tscDeadline) = (ModeOneShot, 0, 0, 0);
        (_start, _period, _deadline) = (0, 0, long.MaxValue);
    }

    internal void SetInitialCount(uint count, long now)
    {
        if (_mode == ModeTscDeadline) return;   // ignored in TSC-deadline mode (SDM vol 3 §10.5.4.1)
        InitialCount = count;
        _start = now;
        _period = count * Divisor;
        _deadline = count == 0 ? long.MaxValue : now + _period;
    }

    internal void SetDivideConfiguration(uint value, long now)
    {
        uint remaining = CurrentCount(now);
        _divideConfiguration = value & 0xB;
        if (_deadline == long.MaxValue || _mode == ModeTscDeadline) return;
        // The count goes on from where it is, at the new rate.
        _period = InitialCount * Divisor;
        _start = now - (InitialCount - remaining) * Divisor;
        _deadline = now + remaining * Divisor;
    }

    /// <summary>A mode change disarms the timer (the SDM leaves the count undefined; KVM stops it too).</summary>
    internal void SetMode(uint mode)
    {
        mode = mode == 3 ? ModeOneShot : mode;
        if (mode == _mode) return;
        bool fromOrToDeadline = mode == ModeTscDeadline || _mode == ModeTscDeadline;
        _mode = mode;
        if (fromOrToDeadline)
        {
            InitialCount = 0;
            _tscDeadline = 0;
            _deadline = long.MaxValue;
        }
        else if (_deadline != long.MaxValue)
        {
            _period = InitialCount * Divisor;
        }
    }

    public uint CurrentCount(long now)
    {
        if (_mode == ModeTscDeadline || InitialCount == 0 || _period == 0) return 0;
        long elapsed = now - _start;
        if (_mode == ModeOneShot && (elapsed >= _period || _deadline == long.MaxValue)) return 0;
        if (_mode == ModePeriodic) elapsed %= _period;
        return (uint)(InitialCount - elapsed / Divisor);
    }

    /// <summary>IA32_TSC_DEADLINE (MSR 0x6E0): reads back the armed value, 0 once it fired.</summary>
    public ulong TscDeadline => _tscDeadline;

    /// <summary>Arms (or with 0 disarms) the deadline; <paramref name="tscOffset"/> is the guest TSC minus guest nanoseconds.</summary>
    internal void SetTscDeadline(ulong value, ulong tscOffset)
    {
        if (_mode != ModeTscDeadline) return;   // writes outside TSC-deadline mode are ignored (SDM vol 3 §10.5.4.1)
        _tscDeadline = value;
        if (value == 0) { _deadline = long.MaxValue; return; }
        long ns = (long)(value - tscOffset);
        _deadline = Math.Max(0, ns);
    }

    internal ApicTimerState SaveState() => new()
    {
        Mode = _mode, DivideConfiguration = _divideConfiguration, InitialCount = InitialCount,
        Start = _start, Period = _period, Deadline = _deadline, TscDeadline = _tscDeadline,
    };

    /// <summary>Checks a saved timer before anything is loaded (the APIC loads all of its state or none).</summary>
    internal static void CheckState(ApicTimerState? state)
    {
        state = StateCheck.NotNull(state, "Apic.Timer");
        StateCheck.AtMost(state.Mode, ModeTscDeadline, "Apic.Timer.Mode");
        StateCheck.That((state.DivideConfiguration & ~0xBu) == 0, "Apic.Timer.DivideConfiguration", "sets bits other than 0, 1 and 3");
        // The longest period: the largest count at the largest divisor (128).
        StateCheck.InRange(state.Period, 0, (long)uint.MaxValue * 128, "Apic.Timer.Period");
        StateCheck.InRange(state.Start, long.MinValue / 4, long.MaxValue / 4, "Apic.Timer.Start");
        StateCheck.InRange(state.Deadline, 0, long.MaxValue, "Apic.Timer.Deadline");
    }

    internal void LoadState(ApicTimerState state)
    {
        (_mode, _divideConfiguration, InitialCount) = (state.Mode, state.DivideConfiguration, state.InitialCount);
        (_start, _period, _deadline, _tscDeadline) = (state.Start, state.Period, state.Deadline, state.TscDeadline);
    }

    public void Update(long now)
    {
        if (now < _deadline) return;
        uint lvt = apic.TimerLvt;
        if ((lvt & (1u << 16)) == 0) apic.RequestVector((byte)lvt, levelTriggered: false);
        switch (_mode)
        {
            case ModePeriodic when _period > 0:
                // Catch up without firing once per missed period: hardware would have raised one IRR bit anyway.
                long late = now - _deadline;
                _deadline = now + _period - late % _period;
                break;
            case ModeTscDeadline:
                _tscDeadline = 0;
                _deadline = long.MaxValue;
                break;
            default:
                _deadline = long.MaxValue;
                break;
        }
    }
}
