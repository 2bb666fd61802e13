namespace KvmSharp.Devices.Pci;

/// <summary>What a base address register decodes (PCI Local Bus spec 3.0 §6.2.5.1).</summary>
public enum PciBarKind
{
    Io,
    Memory32,
    Memory64,
}

/// <summary>A BAR's fixed shape, as the device declared it; its base lives in config space.</summary>
public sealed record PciBar(PciBarKind Kind, ulong Size, bool Prefetchable)
{
    public bool IsMemory => Kind != PciBarKind.Io;
}
