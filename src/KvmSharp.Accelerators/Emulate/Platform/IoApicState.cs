namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>The IOAPIC's registers (82093AA §3.2) and the levels of its input pins.</summary>
public sealed record IoApicState
{
    /// <summary>The 24 redirection entries (§3.2.4 bit layout, Remote IRR included).</summary>
    public ulong[] Entries { get; init; } = [];

    /// <summary>Bit n: pin n is asserted.</summary>
    public uint LineLevels { get; init; }

    /// <summary>IOREGSEL.</summary>
    public byte Select { get; init; }

    public byte Id { get; init; }
}
