using KvmSharp.Devices.Pci;
using KvmSharp.Devices.Virtio.Queue;

namespace KvmSharp.Devices.Virtio.Transport;

/// <summary>
/// The virtio-pci transport's saved state (virtio 1.2 §4.1.4.3): the common configuration registers, the ISR,
/// whether the device was started (DRIVER_OK reached), every queue (<see cref="QueueState"/>, with its MSI-X
/// vector) and the MSI-X table and pending bits. The PCI configuration space is saved by the bus
/// (<see cref="PciBus.SaveState"/>); the device type's own state by the device.
/// </summary>
public sealed record VirtioPciState
{
    public byte DeviceStatus { get; init; }
    public uint DeviceFeatureSelect { get; init; }
    public uint DriverFeatureSelect { get; init; }
    public ulong DriverFeatures { get; init; }
    public int ConfigGeneration { get; init; }
    public ushort QueueSelect { get; init; }
    public ushort ConfigMsixVector { get; init; } = VirtioPciDevice.NoVector;

    /// <summary>ISR status bits (queue 1, configuration 2) the driver has not read yet; INTx is asserted while any is set.</summary>
    public byte Isr { get; init; }

    /// <summary>DRIVER_OK started the device (it may have gone NEEDS_RESET since).</summary>
    public bool Active { get; init; }

    public QueueState[] Queues { get; init; } = [];
    public MsixState Msix { get; init; } = new();
}
