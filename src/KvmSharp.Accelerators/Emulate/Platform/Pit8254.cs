using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The PC's 8254 PIT at 0x40–0x43 and the part of system control port B (0x61) that belongs to it:
/// counter 2's gate and OUT, the speaker enable and the refresh toggle, which Linux's PIT-based TSC
/// calibration polls. Counter 0's OUT drives IRQ 0: the platform calls <see cref="Update"/> at its
/// rising edges, and each port access first brings the line up to date.
/// </summary>
public sealed class Pit8254 : ITimedDevice, IStateful<Pit8254State>
{
    public const ushort Counter0Port = 0x40, ControlPort = 0x43, SystemControlPort = 0x61;

    /// <summary>
    /// The shortest interval between two periodic IRQ 0 edges, as KVM's in-kernel PIT limits it
    /// (min_timer_period_us = 200): faster rates are coalesced instead of flooding the platform.
    /// </summary>
    public const long MinimumPeriodNanoseconds = 200_000;

    // Port 0x61 bits (Intel ICH/PIIX "NMI Status and Control Register").
    private const byte Gate2Bit = 0x01, WritableBits = 0x0F, RefreshToggleBit = 0x10, Out2Bit = 0x20;
    // The refresh request toggles once per DRAM refresh period, 18 PIT clocks (~15.1 µs) on a PC.
    private const long RefreshPeriodTicks = 18;

    private readonly IGuestClock _clock;
    private readonly Action<bool> _setIrq0;
    private readonly Pit8254Channel[] _counters = [new(gate: true), new(gate: true), new(gate: false)];
    private byte _portB;     // bits 3:0 as last written
    private bool _irq0;      // the level last driven on IRQ 0
    private long _lastTick;  // counter 0's edges up to here have been delivered
    private long _lastEdgeTime = long.MinValue / 2;   // when the last IRQ 0 edge went out

    /// <param name="setIrq0">Drives the line counter 0's OUT is wired to (GSI 0).</param>
    public Pit8254(IGuestClock clock, Action<bool> setIrq0)
    {
        _clock = clock;
        _setIrq0 = setIrq0;
    }

    public long NextDeadline { get; private set; } = long.MaxValue;

    public static bool Decodes(ushort port) => port is >= Counter0Port and <= ControlPort or SystemControlPort;

    public void Update(long nowNanoseconds)
    {
        long tick = Math.Max(PitClock.TickAt(nowNanoseconds), _lastTick);
        var counter0 = _counters[0];
        // Edges since the last update are coalesced into one (KVM coalesces a late tick the same way).
        bool rose = counter0.NextRisingEdge(_lastTick) <= tick;
        counter0.Settle(tick);
        _lastTick = tick;
        if (rose)
        {
            _lastEdgeTime = nowNanoseconds;
            DriveIrq0(false);
            DriveIrq0(true);
        }
        DriveIrq0(counter0.Out(tick));
        Schedule();
    }

    /// <summary>Reads a byte register; the PIT has no wider ones, so other sizes read as a floating bus.</summary>
    public uint ReadPort(ushort port, int size)
    {
        if (size != 1)
            return FloatingBus.Read(size);
        Update(_clock.Nanoseconds);
        long tick = _lastTick;
        switch (port)
        {
            case SystemControlPort:
                var counter2 = _counters[2];
                return (uint)(_portB & WritableBits & ~Gate2Bit
                    | (counter2.Gate ? Gate2Bit : 0)
                    | ((tick / RefreshPeriodTicks & 1) != 0 ? RefreshToggleBit : 0)
                    | (counter2.Out(tick) ? Out2Bit : 0));
            case >= Counter0Port and < ControlPort:
                return _counters[port - Counter0Port].Read(tick);
            default:
                return 0xFF;   // the control word register is write-only
        }
    }

    public void WritePort(ushort port, int size, uint value)
    {
        if (size != 1)
            return;
        Update(_clock.Nanoseconds);
        long tick = _lastTick;
        byte data = (byte)value;
        switch (port)
        {
            case SystemControlPort:
                _portB = (byte)(data & WritableBits);
                _counters[2].SetGate((data & Gate2Bit) != 0, tick);
                break;
            case ControlPort:
                WriteControl(data, tick);
                break;
            case >= Counter0Port and < ControlPort:
                _counters[port - Counter0Port].Write(data, tick);
                break;
        }
        // A write can move OUT at once (a new mode, or mode 0's first count byte).
        DriveIrq0(_counters[0].Out(tick));
        Schedule();
    }

    public Pit8254State SaveState() => new()
    {
        Channels = [.. _counters.Select(c => c.SaveState())], PortB = _portB, Irq0 = _irq0, LastTick = _lastTick, LastEdgeTime = _lastEdgeTime,
    };

    /// <summary>
    /// Loads a saved PIT. The IRQ 0 level is taken as it was, without driving the line: the interrupt
    /// controllers' own saved state already holds what that level did.
    /// </summary>
    public void RestoreState(Pit8254State state)
    {
        StateCheck.NotNull(state, "Pit");
        var channels = StateCheck.Length(state.Channels, _counters.Length, "Pit.Channels");
        for (int i = 0; i < channels.Length; i++) Pit8254Channel.CheckState(channels[i], $"Pit.Channels[{i}]");
        StateCheck.AtMost(state.PortB, WritableBits, "Pit.PortB");
        StateCheck.InRange(state.LastTick, 0, long.MaxValue / 2, "Pit.LastTick");
        StateCheck.InRange(state.LastEdgeTime, long.MinValue / 2, long.MaxValue / 2, "Pit.LastEdgeTime");
        for (int i = 0; i < channels.Length; i++) _counters[i].LoadState(channels[i]);
        (_portB, _irq0, _lastTick, _lastEdgeTime) = (state.PortB, state.Irq0, state.LastTick, state.LastEdgeTime);
        Schedule();
    }

    private void WriteControl(byte data, long tick)
    {
        int select = data >> 6;
        if (select == 3)
        {
            // Read-back command (datasheet, "Read-Back Command"): bits 3:1 pick counters 2..0; bit 5 low
            // latches their counts, bit 4 low their status.
            for (int i = 0; i < _counters.Length; i++)
            {
                if ((data & 2 << i) == 0)
                    continue;
                if ((data & 0x20) == 0)
                    _counters[i].LatchCount(tick);
                if ((data & 0x10) == 0)
                    _counters[i].LatchStatus(tick);
            }
        }
        else if ((data & 0x30) == 0)
        {
            _counters[select].LatchCount(tick);
        }
        else
        {
            _counters[select].WriteControl(data, tick);
        }
    }

    private void DriveIrq0(bool high)
    {
        if (high == _irq0)
            return;
        _irq0 = high;
        _setIrq0(high);
    }

    private void Schedule()
    {
        var counter0 = _counters[0];
        long edge = counter0.NextRisingEdge(_lastTick);
        if (edge == long.MaxValue)
        {
            NextDeadline = long.MaxValue;
            return;
        }
        long deadline = PitClock.TimeOfTick(edge);
        NextDeadline = counter0.Periodic ? Math.Max(deadline, _lastEdgeTime + MinimumPeriodNanoseconds) : deadline;
    }
}
