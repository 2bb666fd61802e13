namespace KvmSharp.Devices.Virtio;

/// <summary>
/// One virtio device type (block, net, entropy, …), apart from the transport that carries it (virtio 1.2
/// §3, §5). The transport (<see cref="Transport.VirtioPciDevice"/>) owns status, feature negotiation and
/// queue setup; the device declares what it offers and does the work once the driver is ready.
/// <para>
/// Threads: <see cref="ReadConfig"/>/<see cref="WriteConfig"/>, <see cref="Activate"/> and
/// <see cref="Reset"/> run on vCPU threads, serialized by the transport. After <see cref="Activate"/> the
/// device serves its queues on its own thread (typically a <see cref="DeviceEventLoop"/>), never on a
/// vCPU thread, and <see cref="Reset"/> must not return until that thread has stopped touching the
/// queues and guest memory.
/// </para>
/// The guest is hostile: a malformed request the device can answer with an error status is answered;
/// a malformed queue (a <see cref="Queue.VirtQueueException"/>) goes to
/// <see cref="IVirtioInterrupts.MarkNeedsReset"/>, and the device stops serving until reset. No guest
/// input may throw out of the device's thread or hang it.
/// </summary>
public interface IVirtioDevice : IDisposable
{
    VirtioDeviceType DeviceType { get; }

    /// <summary>Device-specific feature bits offered (0–23, §6); the transport adds <see cref="VirtioFeatures.TransportOffered"/>.</summary>
    ulong DeviceFeatures { get; }

    /// <summary>One entry per virtqueue: its maximum size (a power of two up to 32768).</summary>
    IReadOnlyList<ushort> QueueSizes { get; }

    /// <summary>Bytes of device-specific configuration (§4.1.4.6); may be 0.</summary>
    int ConfigSize { get; }

    /// <summary>Reads device configuration; the transport guarantees offset+length ≤ <see cref="ConfigSize"/>.</summary>
    void ReadConfig(int offset, Span<byte> data);

    /// <summary>Takes a driver write to device configuration (most fields are read-only: ignore those).</summary>
    void WriteConfig(int offset, ReadOnlySpan<byte> data);

    /// <summary>DRIVER_OK (§3.1.1): features are negotiated and the enabled queues set up; start serving.</summary>
    void Activate(VirtioActivation activation);

    /// <summary>Device reset (§2.4): stop serving and forget the activation; a later Activate starts afresh.</summary>
    void Reset();
}
