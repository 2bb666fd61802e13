using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// One counter of an 8254 (Intel 8254 datasheet, "Modes" and "Read Operations"). Nothing ticks: the
/// counting element is described by the count loaded and the <see cref="PitClock"/> tick it was loaded
/// at, and the count and OUT are computed for the tick asked about. Counts are taken as loaded on the
/// write (QEMU and KVM do the same), not one CLK later as on the chip.
/// </summary>
public sealed class Pit8254Channel
{
    // Control word access field (datasheet, "Control Word Format", RW1/RW0).
    private const int AccessLsb = 1, AccessMsb = 2, AccessLsbMsb = 3;

    private int _mode;
    private int _access = AccessLsbMsb;
    private bool _bcd;
    private byte _controlBits;     // bits 5:0 of the last control word, for the read-back status
    private bool _gate;

    private ushort _countRegister;  // the initial count as last written (binary or BCD)
    private bool _countWritten;     // since the last control word
    private bool _nullCount = true; // datasheet, "Read-Back Command": a count written but not yet loaded
    private byte _writeLsb;
    private bool _writeMsbNext, _readMsbNext;
    private bool _countLatched, _latchedMsbNext, _statusLatched;
    private ushort _latchedCount;
    private byte _latchedStatus;

    // The counting element.
    private bool _counting;         // loaded (for modes 1 and 5: triggered) since the last control word
    private long _activeCount;      // N in effect, 1..65536 (binary) or 1..10000 (BCD)
    private long _startTick;        // the tick N was loaded at
    private bool _paused;           // gate low: modes 0/4 hold the count, modes 2/3 stop with OUT high
    private long _pausedElapsed;
    private bool _hasPending;       // modes 2/3: a count written while counting starts with the next period
    private long _pendingCount, _pendingTick;
    private bool _idleOut;          // OUT while not counting
    private long _heldCount;        // the count shown while not counting

    public Pit8254Channel(bool gate) => _gate = gate;

    public bool Gate => _gate;

    /// <summary>Modes 2 and 3 repeat by themselves (the timer's deadlines are rate-limited for them).</summary>
    public bool Periodic => _counting && _mode is 2 or 3;

    private long Modulus => _bcd ? 10_000 : 65_536;

    /// <summary>A control word that selects this counter with a non-zero access field: mode, access, BCD.</summary>
    public void WriteControl(byte controlWord, long tick)
    {
        Settle(tick);
        _heldCount = CurrentCount(tick);
        _access = controlWord >> 4 & 3;
        int mode = controlWord >> 1 & 7;
        _mode = mode > 5 ? mode - 4 : mode;   // 110 and 111 are modes 2 and 3 (datasheet, M2 is "X")
        _bcd = (controlWord & 1) != 0;
        _controlBits = (byte)(controlWord & 0x3F);
        // "When a Control Word is written to a Counter, all Control Logic is immediately reset and OUT goes
        // to a known initial state": low for mode 0, high for every other mode.
        _counting = _paused = _hasPending = _countWritten = false;
        _writeMsbNext = _readMsbNext = _countLatched = _latchedMsbNext = _statusLatched = false;
        _nullCount = true;
        _idleOut = _mode != 0;
    }

    /// <summary>The counter latch command: the count is held for reading until it has been read (a second latch is ignored).</summary>
    public void LatchCount(long tick)
    {
        Settle(tick);
        if (_countLatched)
            return;
        _latchedCount = Encode(CurrentCount(tick));
        _countLatched = true;
        _latchedMsbNext = false;
    }

    /// <summary>Read-back status (datasheet, "Status Byte"): OUT, null count, and the programmed RW/mode/BCD bits.</summary>
    public void LatchStatus(long tick)
    {
        Settle(tick);
        if (_statusLatched)
            return;
        _latchedStatus = (byte)((Out(tick) ? 0x80 : 0) | (_nullCount ? 0x40 : 0) | _controlBits);
        _statusLatched = true;
    }

    public byte Read(long tick)
    {
        Settle(tick);
        if (_statusLatched)
        {
            _statusLatched = false;   // a latched status is read before a latched count
            return _latchedStatus;
        }
        ushort value;
        bool msb;
        if (_countLatched)
        {
            value = _latchedCount;
            msb = _access == AccessMsb || (_access == AccessLsbMsb && _latchedMsbNext);
            _latchedMsbNext = _access == AccessLsbMsb && !_latchedMsbNext;
            _countLatched = _latchedMsbNext;
        }
        else
        {
            value = Encode(CurrentCount(tick));
            msb = _access == AccessMsb || (_access == AccessLsbMsb && _readMsbNext);
            if (_access == AccessLsbMsb)
                _readMsbNext = !_readMsbNext;
        }
        return (byte)(msb ? value >> 8 : value);
    }

    public void Write(byte value, long tick)
    {
        Settle(tick);
        ushort count;
        switch (_access)
        {
            case AccessLsb:
                count = value;
                break;
            case AccessMsb:
                count = (ushort)(value << 8);
                break;
            default:
                if (!_writeMsbNext)
                {
                    _writeLsb = value;
                    _writeMsbNext = true;
                    // Mode 0: "writing the first byte disables counting, OUT is set low immediately".
                    if (_mode == 0)
                    {
                        _heldCount = CurrentCount(tick);
                        _counting = false;
                        _idleOut = false;
                    }
                    return;
                }
                _writeMsbNext = false;
                count = (ushort)(_writeLsb | value << 8);
                break;
        }
        LoadCount(count, tick);
    }

    private void LoadCount(ushort count, long tick)
    {
        _countRegister = count;
        _countWritten = true;
        _nullCount = true;
        switch (_mode)
        {
            case 1:
            case 5:
                break;   // armed: the next gate rising edge loads the counter
            case 2:
            case 3:
                if (_counting && !_paused)
                {
                    // "If the Counter is written during counting, the new count is loaded at the end of
                    // the current counting cycle" (mode 3: half-cycle; here the full period, which keeps
                    // one rule for both modes).
                    _pendingCount = EffectiveCount(count);
                    _pendingTick = _startTick + ((tick - _startTick) / _activeCount + 1) * _activeCount;
                    _hasPending = true;
                }
                else if (!_counting)
                {
                    Start(tick);
                }
                break;   // while the gate is low, the gate's rising edge loads it
            default:
                Start(tick);
                break;
        }
    }

    private void Start(long tick)
    {
        _counting = true;
        _activeCount = EffectiveCount(_countRegister);
        _startTick = tick;
        _paused = !_gate && _mode is not (1 or 5);
        _pausedElapsed = 0;
        _hasPending = false;
        _nullCount = false;
    }

    /// <summary>Drives GATE (only counter 2's is wired to anything on a PC: port 0x61 bit 0).</summary>
    public void SetGate(bool high, long tick)
    {
        Settle(tick);
        if (high == _gate)
            return;
        _gate = high;
        switch (_mode)
        {
            case 0:
            case 4:
                // Gate low suspends counting; high resumes it (datasheet, "Gate Pin Operations Summary").
                if (!_counting)
                    return;
                if (!high)
                {
                    _pausedElapsed = tick - _startTick;
                    _paused = true;
                }
                else if (_paused)
                {
                    _startTick = tick - _pausedElapsed;
                    _paused = false;
                }
                break;
            case 2:
            case 3:
                // Low: counting stops and OUT goes high at once; the rising edge reloads the counter.
                if (!_counting)
                    return;
                if (!high)
                {
                    _pausedElapsed = Elapsed(tick);
                    _paused = true;
                }
                else
                {
                    Start(tick);
                }
                break;
            default:
                // Modes 1 and 5: the rising edge (re)triggers an armed counter.
                if (high && _countWritten)
                    Start(tick);
                break;
        }
    }

    public bool Out(long tick)
    {
        Settle(tick);
        if (!_counting)
            return _idleOut;
        if (_paused && _mode is 2 or 3)
            return true;
        long n = _activeCount, d = Elapsed(tick);
        return _mode switch
        {
            0 or 1 => d >= n,
            4 or 5 => d != n,   // a one-CLK strobe low at terminal count
            2 => n < 2 || d % n != n - 1,   // low for the one CLK with count 1
            _ => d % n < (n + 1) / 2,       // mode 3: high for the first (larger) half
        };
    }

    /// <summary>The first tick after <paramref name="afterTick"/> at which OUT rises, or <see cref="long.MaxValue"/>.</summary>
    public long NextRisingEdge(long afterTick)
    {
        if (!_counting || _paused)
            return long.MaxValue;
        long n = _activeCount, d = afterTick - _startTick;
        switch (_mode)
        {
            case 0:
            case 1:
                return d < n ? _startTick + n : long.MaxValue;
            case 4:
            case 5:
                return d < n + 1 ? _startTick + n + 1 : long.MaxValue;
            default:
                // Modes 2 and 3 rise at the start of every period; a count below 2 is illegal there
                // (datasheet) and gives no edges rather than one per CLK.
                if (n < 2)
                    return long.MaxValue;
                return _startTick + (d < 0 ? 1 : d / n + 1) * n;
        }
    }

    /// <summary>Applies a pending mode 2/3 count whose period has begun; changes no value a read would see.</summary>
    public void Settle(long tick)
    {
        if (!_hasPending || _paused || tick < _pendingTick)
            return;
        _activeCount = _pendingCount;
        _startTick = _pendingTick;
        _hasPending = false;
        _nullCount = false;
    }

    private long Elapsed(long tick) => _paused ? _pausedElapsed : Math.Max(0, tick - _startTick);

    /// <summary>The counting element's value (0..modulus-1) at <paramref name="tick"/>.</summary>
    private long CurrentCount(long tick)
    {
        if (!_counting)
            return _heldCount;
        long n = _activeCount, d = Elapsed(tick), m = Modulus;
        switch (_mode)
        {
            case 2:
                return (n - d % n) % m;   // N, N-1, ..., 1, then reload
            case 3:
                return SquareWaveCount(n, d % n) % m;
            default:
                return ((n - d) % m + m) % m;   // modes 0, 1, 4, 5 wrap and keep counting after terminal count
        }
    }

    /// <summary>
    /// Mode 3's count at <paramref name="phase"/> CLKs into a period (datasheet, "Mode 3"): it drops by 2
    /// per CLK and reloads at each half-period; with an odd N the first CLK of the high half drops it by
    /// 1 and the first of the low half by 3, so the high half is one CLK longer.
    /// </summary>
    private static long SquareWaveCount(long n, long phase)
    {
        long high = (n + 1) / 2;
        if (phase < high)
            return phase == 0 ? n : (n & 1) == 0 ? n - 2 * phase : n + 1 - 2 * phase;
        long low = phase - high;
        return low == 0 ? n : (n & 1) == 0 ? n - 2 * low : n - 1 - 2 * low;
    }

    public Pit8254ChannelState SaveState() => new()
    {
        Mode = _mode, Access = _access, Bcd = _bcd, ControlBits = _controlBits, Gate = _gate, CountRegister = _countRegister,
        CountWritten = _countWritten, NullCount = _nullCount, WriteLsb = _writeLsb, WriteMsbNext = _writeMsbNext,
        ReadMsbNext = _readMsbNext, CountLatched = _countLatched, LatchedMsbNext = _latchedMsbNext, StatusLatched = _statusLatched,
        LatchedCount = _latchedCount, LatchedStatus = _latchedStatus, Counting = _counting, ActiveCount = _activeCount,
        StartTick = _startTick, Paused = _paused, PausedElapsed = _pausedElapsed, HasPending = _hasPending,
        PendingCount = _pendingCount, PendingTick = _pendingTick, IdleOut = _idleOut, HeldCount = _heldCount,
    };

    /// <summary>Checks a saved counter before the PIT loads any of them: the counts divide, so none may be out of range.</summary>
    public static void CheckState(Pit8254ChannelState? state, string field)
    {
        state = StateCheck.NotNull(state, field);
        StateCheck.InRange(state.Mode, 0, 5, $"{field}.Mode");
        StateCheck.InRange(state.Access, AccessLsb, AccessLsbMsb, $"{field}.Access");
        StateCheck.AtMost(state.ControlBits, 0x3F, $"{field}.ControlBits");
        long modulus = state.Bcd ? 10_000 : 65_536;
        if (state.Counting) StateCheck.InRange(state.ActiveCount, 1, modulus, $"{field}.ActiveCount");
        if (state.HasPending) StateCheck.InRange(state.PendingCount, 1, modulus, $"{field}.PendingCount");
        StateCheck.InRange(state.HeldCount, 0, modulus - 1, $"{field}.HeldCount");
        StateCheck.InRange(state.StartTick, 0, long.MaxValue / 2, $"{field}.StartTick");
        StateCheck.InRange(state.PendingTick, 0, long.MaxValue / 2, $"{field}.PendingTick");
        StateCheck.InRange(state.PausedElapsed, 0, long.MaxValue / 2, $"{field}.PausedElapsed");
    }

    public void LoadState(Pit8254ChannelState state)
    {
        (_mode, _access, _bcd, _controlBits, _gate, _countRegister) = (state.Mode, state.Access, state.Bcd, state.ControlBits, state.Gate, state.CountRegister);
        (_countWritten, _nullCount, _writeLsb, _writeMsbNext, _readMsbNext) = (state.CountWritten, state.NullCount, state.WriteLsb, state.WriteMsbNext, state.ReadMsbNext);
        (_countLatched, _latchedMsbNext, _statusLatched, _latchedCount, _latchedStatus) =
            (state.CountLatched, state.LatchedMsbNext, state.StatusLatched, state.LatchedCount, state.LatchedStatus);
        (_counting, _activeCount, _startTick, _paused, _pausedElapsed) = (state.Counting, state.ActiveCount, state.StartTick, state.Paused, state.PausedElapsed);
        (_hasPending, _pendingCount, _pendingTick, _idleOut, _heldCount) = (state.HasPending, state.PendingCount, state.PendingTick, state.IdleOut, state.HeldCount);
    }

    /// <summary>An initial count as the counter uses it: 0 stands for the modulus (2¹⁶ binary, 10⁴ BCD).</summary>
    private long EffectiveCount(ushort raw)
    {
        long value = _bcd ? FromBcd(raw) % 10_000 : raw;
        return value == 0 ? Modulus : value;
    }

    private ushort Encode(long count) => _bcd ? ToBcd(count) : (ushort)count;

    /// <summary>Digits above 9 are the guest's mistake; they are weighted like any other digit.</summary>
    private static long FromBcd(ushort raw) =>
        (raw & 0xF) + (raw >> 4 & 0xF) * 10 + (raw >> 8 & 0xF) * 100 + (raw >> 12 & 0xF) * 1000;

    private static ushort ToBcd(long value) =>
        (ushort)(value % 10 | value / 10 % 10 << 4 | value / 100 % 10 << 8 | value / 1000 % 10 << 12);
}
