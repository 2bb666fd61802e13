namespace KvmSharp.Devices.Virtio;

/// <summary>
/// Feature bits that are not device-specific (virtio 1.2 §6), as bit masks. The transport offers
/// <see cref="TransportOffered"/> on every device; a device adds its own bits (0–23) in
/// <see cref="IVirtioDevice.DeviceFeatures"/>.
/// </summary>
public static class VirtioFeatures
{
    /// <summary>VIRTIO_F_INDIRECT_DESC (28): indirect descriptor tables (§2.7.5.3).</summary>
    public const ulong IndirectDescriptors = 1UL << 28;

    /// <summary>VIRTIO_F_EVENT_IDX (29): used_event/avail_event notification suppression (§2.7.7, §2.7.10).</summary>
    public const ulong EventIndex = 1UL << 29;

    /// <summary>VIRTIO_F_VERSION_1 (32): the device follows virtio 1.x, not the legacy interface.</summary>
    public const ulong Version1 = 1UL << 32;

    /// <summary>What every device gets from the transport and <see cref="Queue.VirtQueue"/>.</summary>
    public const ulong TransportOffered = IndirectDescriptors | EventIndex | Version1;

    public static bool Has(ulong features, ulong bit) => (features & bit) == bit;
}
