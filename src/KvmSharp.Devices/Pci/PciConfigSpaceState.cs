namespace KvmSharp.Devices.Pci;

/// <summary>
/// One function's saved configuration space: all of its bytes (256, or 4096 for an extended space). The guest
/// wrote some of them (command, BAR bases, interrupt line, capability control fields); the rest is the
/// function's read-only shape, which a restore checks against the function it is loaded into.
/// </summary>
public sealed record PciConfigSpaceState
{
    public byte[] Bytes { get; init; } = [];
}

/// <summary>One function of a bus's saved state: where it sits and its configuration space.</summary>
public sealed record PciFunctionState
{
    public int Slot { get; init; }
    public int Function { get; init; }
    public PciConfigSpaceState Config { get; init; } = new();
}

/// <summary>PCI bus 0's saved state: every attached function's configuration space, in slot order.</summary>
public sealed record PciBusState
{
    public PciFunctionState[] Functions { get; init; } = [];
}

/// <summary>Configuration mechanism #1's saved CONFIG_ADDRESS (port 0xCF8), which a guest may have set between two accesses.</summary>
public sealed record PciConfigAddressState
{
    public uint Address { get; init; }
}
