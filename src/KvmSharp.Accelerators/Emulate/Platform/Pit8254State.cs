namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The 8254 PIT and its part of port 0x61. Ticks count the 1.193182 MHz input clock from guest time 0
/// (<see cref="PitClock"/>), so they stay meaningful on the restored VM's clock, which continues from the save.
/// </summary>
public sealed record Pit8254State
{
    /// <summary>Counters 0, 1 and 2.</summary>
    public Pit8254ChannelState[] Channels { get; init; } = [];

    /// <summary>Port 0x61 bits 3:0 as last written.</summary>
    public byte PortB { get; init; }

    /// <summary>The level last driven on IRQ 0.</summary>
    public bool Irq0 { get; init; }

    /// <summary>Counter 0's edges up to this tick have been delivered.</summary>
    public long LastTick { get; init; }

    /// <summary>Guest nanoseconds of the last IRQ 0 edge (for the periodic rate limit).</summary>
    public long LastEdgeTime { get; init; }
}

/// <summary>One 8254 counter (datasheet "Modes", "Read Operations", "Read-Back Command").</summary>
public sealed record Pit8254ChannelState
{
    /// <summary>0–5.</summary>
    public int Mode { get; init; }

    /// <summary>Read/write access: 1 LSB, 2 MSB, 3 LSB then MSB.</summary>
    public int Access { get; init; } = 3;
    public bool Bcd { get; init; }

    /// <summary>Bits 5:0 of the last control word (the read-back status shows them).</summary>
    public byte ControlBits { get; init; }
    public bool Gate { get; init; }
    public ushort CountRegister { get; init; }
    public bool CountWritten { get; init; }
    public bool NullCount { get; init; } = true;
    public byte WriteLsb { get; init; }
    public bool WriteMsbNext { get; init; }
    public bool ReadMsbNext { get; init; }
    public bool CountLatched { get; init; }
    public bool LatchedMsbNext { get; init; }
    public bool StatusLatched { get; init; }
    public ushort LatchedCount { get; init; }
    public byte LatchedStatus { get; init; }

    /// <summary>The counting element runs (loaded, and for modes 1 and 5 triggered).</summary>
    public bool Counting { get; init; }

    /// <summary>N in effect: 1..65536 (binary) or 1..10000 (BCD).</summary>
    public long ActiveCount { get; init; }

    /// <summary>The tick N was loaded at.</summary>
    public long StartTick { get; init; }
    public bool Paused { get; init; }
    public long PausedElapsed { get; init; }

    /// <summary>Modes 2 and 3: a count written while counting, loaded at <see cref="PendingTick"/>.</summary>
    public bool HasPending { get; init; }
    public long PendingCount { get; init; }
    public long PendingTick { get; init; }

    /// <summary>OUT while not counting.</summary>
    public bool IdleOut { get; init; }

    /// <summary>The count shown while not counting.</summary>
    public long HeldCount { get; init; }
}
