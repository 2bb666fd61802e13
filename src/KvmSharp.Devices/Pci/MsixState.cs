namespace KvmSharp.Devices.Pci;

/// <summary>
/// An MSI-X capability's saved structures (PCI 3.0 §6.8.2): the table (16 bytes per vector: address, data,
/// vector control) and the pending bit array (one bit per vector, in 8-byte units). Function Mask and MSI-X
/// Enable live in configuration space and are saved with it.
/// </summary>
public sealed record MsixState
{
    public byte[] Table { get; init; } = [];
    public byte[] PendingBits { get; init; } = [];
}
