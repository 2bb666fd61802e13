namespace KvmSharp.Devices.Legacy;

/// <summary>
/// A 16550A's saved state: every register the guest can set or observe, the receive FIFO and the host input
/// waiting behind it (both oldest first), and the latched interrupt conditions. The transmitter needs nothing:
/// it is always empty (<see cref="Serial16550"/> sends each byte at once).
/// </summary>
public sealed record Serial16550State
{
    public byte InterruptEnable { get; init; }
    public byte LineControl { get; init; }
    public byte ModemControl { get; init; }
    public byte ModemStatus { get; init; }
    public byte Scratch { get; init; }

    /// <summary>LSR bits 1-4 latched since the guest last read LSR.</summary>
    public byte LineErrors { get; init; }

    public ushort Divisor { get; init; }
    public bool FifoEnabled { get; init; }

    /// <summary>The receive FIFO trigger level: 1, 4, 8 or 14 bytes.</summary>
    public int TriggerLevel { get; init; } = 1;

    /// <summary>The THRE interrupt condition (datasheet Table IV, priority 3) is latched.</summary>
    public bool TransmitEmptyPending { get; init; }

    /// <summary>What RBR reads when the FIFO is empty: the last byte taken.</summary>
    public byte LastReceived { get; init; }

    public byte[] ReceiveFifo { get; init; } = [];
    public byte[] HostInput { get; init; } = [];
}
