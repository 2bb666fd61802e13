namespace KvmSharp.Devices.Virtio.Queue;

/// <summary>
/// One split virtqueue's saved state, as rust-vmm's virtio-queue keeps it: the configuration the driver wrote
/// (size, ring addresses, whether it enabled the queue), and the device's positions in the rings. The ring
/// contents themselves are guest memory and travel with it.
/// <para>
/// For a queue the driver has not enabled, size and addresses are the transport's registers as the driver left
/// them (possibly half set up) and the positions are zero. <see cref="MsixVector"/> is the transport's; a bare
/// <see cref="VirtQueue"/> saves VIRTIO_MSI_NO_VECTOR and ignores it.
/// </para>
/// </summary>
public sealed record QueueState
{
    /// <summary>The most entries the device offers for this queue; a restore refuses another maximum.</summary>
    public ushort MaxSize { get; init; }

    public ushort Size { get; init; }
    public bool Ready { get; init; }
    public ulong DescriptorTable { get; init; }
    public ulong DriverRing { get; init; }
    public ulong DeviceRing { get; init; }

    /// <summary>The next driver-ring position the device reads (its last_avail_idx).</summary>
    public ushort NextAvail { get; init; }

    /// <summary>The used idx the device has published.</summary>
    public ushort NextUsed { get; init; }

    /// <summary>VIRTIO_F_EVENT_IDX was negotiated.</summary>
    public bool EventIdx { get; init; }

    /// <summary>The used idx at the last notification decision under EVENT_IDX, and whether there was one since enable.</summary>
    public ushort SignalledUsed { get; init; }
    public bool SignalledUsedValid { get; init; }

    public ushort MsixVector { get; init; } = 0xFFFF;
}
