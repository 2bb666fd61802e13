using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio;

/// <summary>
/// What a device gets at DRIVER_OK: the negotiated features, its queues (a queue the driver did not
/// enable is present but not <see cref="VirtQueue.IsReady"/>), one notifier per queue that is signalled
/// whenever the driver notifies that queue (on KVM the kernel signals it directly through an ioeventfd),
/// and the way back to the driver. The device's thread owns the queues from here until reset.
/// </summary>
public sealed class VirtioActivation(
    GuestMemory memory, ulong features, IReadOnlyList<VirtQueue> queues, IReadOnlyList<EventNotifier> notifiers, IVirtioInterrupts interrupts)
{
    public GuestMemory Memory { get; } = memory;
    public ulong Features { get; } = features;
    public IReadOnlyList<VirtQueue> Queues { get; } = queues;
    public IReadOnlyList<EventNotifier> Notifiers { get; } = notifiers;
    public IVirtioInterrupts Interrupts { get; } = interrupts;

    public bool Has(ulong featureBit) => VirtioFeatures.Has(Features, featureBit);

    /// <summary>
    /// Tells the driver about used buffers of <paramref name="queue"/> if it wants to hear (§2.7.7, EVENT_IDX
    /// included). Call once after a batch of <see cref="VirtQueue.AddUsed"/>.
    /// </summary>
    public void NotifyUsed(int queue)
    {
        if (Queues[queue].NeedsInterrupt()) Interrupts.SignalQueue(queue);
    }
}

/// <summary>The transport's side of a running device: interrupts and the broken-device state. Thread-safe, allocation-free.</summary>
public interface IVirtioInterrupts
{
    /// <summary>A used-buffer notification for <paramref name="queue"/> (§2.3.2): its MSI-X vector, or INTx with ISR bit 0.</summary>
    void SignalQueue(int queue);

    /// <summary>A configuration change notification (§2.5.1, §4.1.4.5): the config vector, or INTx with ISR bit 1.</summary>
    void SignalConfigChange();

    /// <summary>
    /// The device found the driver's queues or requests unusable: sets DEVICE_NEEDS_RESET (§2.1.2), tells the
    /// driver with a configuration change notification and logs <paramref name="reason"/> once. The device stops
    /// serving until the driver resets it.
    /// </summary>
    void MarkNeedsReset(string reason);
}
