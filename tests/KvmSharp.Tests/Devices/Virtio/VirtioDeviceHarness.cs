using System.Collections.Concurrent;
using KvmSharp.Devices.Virtio;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;

namespace KvmSharp.Tests.Devices.Virtio;

/// <summary>
/// A device under test without PCI: one <see cref="MockVirtqDriver"/> per queue on shared guest RAM (each
/// queue's layout in its own <see cref="MockVirtqDriver.LayoutSize"/> slice), real eventfds as notifiers and
/// <see cref="RecordingInterrupts"/>, activated as the transport would at DRIVER_OK.
/// </summary>
internal sealed class VirtioDeviceHarness : IDisposable
{
    /// <summary>How long a test waits for the device thread; a device that needs longer is hung.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly EventNotifier[] _notifiers;

    public VirtioDeviceHarness(IVirtioDevice device, ulong features = VirtioFeatures.Version1, bool enable = true)
    {
        Device = device;
        int queues = device.QueueSizes.Count;
        Memory = GuestMemory.Create(MockVirtqDriver.LayoutSize * (ulong)queues);
        Drivers = new MockVirtqDriver[queues];
        _notifiers = new EventNotifier[queues];
        for (int i = 0; i < queues; i++)
        {
            Drivers[i] = new MockVirtqDriver(Memory, Math.Min(device.QueueSizes[i], (ushort)16), MockVirtqDriver.LayoutSize * (ulong)i);
            if (enable) Drivers[i].Enable(VirtioFeatures.Has(features, VirtioFeatures.EventIndex));
            _notifiers[i] = new EventNotifier();
        }
        Features = features;
    }

    public IVirtioDevice Device { get; }
    public GuestMemory Memory { get; }
    public MockVirtqDriver[] Drivers { get; }
    public ulong Features { get; }
    public RecordingInterrupts Interrupts { get; } = new();

    public void Activate() =>
        Device.Activate(new VirtioActivation(Memory, Features, Drivers.Select(d => d.Queue).ToArray(), _notifiers, Interrupts));

    /// <summary>Publishes <paramref name="head"/> on <paramref name="queue"/> and kicks the device (the driver's notify write).</summary>
    public void Submit(int queue, ushort head)
    {
        Drivers[queue].Publish(head);
        _notifiers[queue].Signal();
    }

    /// <summary>Waits until the device has used <paramref name="count"/> chains of <paramref name="queue"/> in all; fails if it never does.</summary>
    public void WaitForUsed(int queue, ushort count) =>
        Assert.True(SpinWait.SpinUntil(() => Drivers[queue].UsedIdx == count, Patience),
            $"queue {queue}: used idx {Drivers[queue].UsedIdx}, expected {count}");

    public void WaitUntil(Func<bool> condition, string what) =>
        Assert.True(SpinWait.SpinUntil(condition, Patience), $"timed out waiting for {what}");

    public void Dispose()
    {
        Device.Dispose();
        foreach (var n in _notifiers) n.Dispose();
        Memory.Dispose();
    }
}
