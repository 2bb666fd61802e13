using System.Buffers.Binary;
using KvmSharp.Devices.Pci;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Transport;
using KvmSharp.Memory;
using KvmSharp.Tests.Devices.Pci;

namespace KvmSharp.Tests.Devices.Virtio.Transport;

/// <summary>
/// A real device behind a virtio-pci transport, driven through BAR 0 the way Linux's virtio_pci_modern drives it:
/// one <see cref="MockVirtqDriver"/> layout per queue in guest RAM, MSI-X on (vector q+1 for queue q, 0 for
/// configuration changes), doorbells written through the BAR. The RAM may be shared with another rig, which is
/// how a test moves a machine's memory to the transport it restores.
/// </summary>
internal sealed class TransportRig : IDisposable
{
    // struct virtio_pci_common_cfg offsets (virtio 1.2 §4.1.4.3).
    public const ulong DriverFeatureSelect = 0x08, DriverFeature = 0x0C, ConfigMsixVector = 0x10, DeviceStatus = 0x14;
    public const ulong QueueSelect = 0x16, QueueSize = 0x18, QueueMsixVector = 0x1A, QueueEnable = 0x1C;
    public const ulong QueueDesc = 0x20, QueueDriver = 0x28, QueueDevice = 0x30;
    public const byte Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8;
    public const byte Running = Acknowledge | Driver | FeaturesOk | DriverOk;

    public const ulong MsiAddress = 0xFEE0_0000;

    private readonly bool _ownsMemory;

    public TransportRig(Func<IVirtioDevice> device, GuestMemory? memory = null, ushort queueSize = 16)
    {
        Device = device();
        int queues = Device.QueueSizes.Count;
        _ownsMemory = memory is null;
        Memory = memory ?? GuestMemory.Create(MockVirtqDriver.LayoutSize * (ulong)queues);
        Drivers = new MockVirtqDriver[queues];
        for (int q = 0; q < queues; q++)
            Drivers[q] = new MockVirtqDriver(Memory, Math.Min(queueSize, Device.QueueSizes[q]), MockVirtqDriver.LayoutSize * (ulong)q);
        Transport = new VirtioPciDevice(Device, Memory, Msi, Intx, "rig 00:01.0", Notices.Add);
    }

    public IVirtioDevice Device { get; }
    public GuestMemory Memory { get; }
    public MockVirtqDriver[] Drivers { get; }
    public VirtioPciDevice Transport { get; }
    public ThreadSafeMsiSink Msi { get; } = new();
    public RecordingInterruptLine Intx { get; } = new();
    public List<string> Notices { get; } = [];

    /// <summary>The messages sent for queue <paramref name="queue"/> so far.</summary>
    public int QueueMessages(int queue) => Msi.Count(MsiAddress, (uint)(0x40 + queue + 1));

    public int ConfigMessages => Msi.Count(MsiAddress, 0x40);

    /// <summary>§3.1.1 driver initialisation with <paramref name="features"/>, every queue enabled, MSI-X on.</summary>
    public void Start(ulong features = VirtioFeatures.Version1 | VirtioFeatures.EventIndex)
    {
        EnableMsix();
        Span<byte> entry = stackalloc byte[16];
        for (int v = 0; v <= Drivers.Length; v++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(entry, MsiAddress);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], (uint)(0x40 + v));
            Transport.BarWrite(0, VirtioPciLayout.MsixTableOffset + 16ul * (ulong)v, entry[..8]);
            Transport.BarWrite(0, VirtioPciLayout.MsixTableOffset + 16ul * (ulong)v + 8, entry[8..]);
        }
        Write(DeviceStatus, 1, Acknowledge);
        Write(DeviceStatus, 1, Acknowledge | Driver);
        Write(DriverFeatureSelect, 4, 0);
        Write(DriverFeature, 4, (uint)features);
        Write(DriverFeatureSelect, 4, 1);
        Write(DriverFeature, 4, (uint)(features >> 32));
        Write(DeviceStatus, 1, Acknowledge | Driver | FeaturesOk);
        Write(ConfigMsixVector, 2, 0);
        for (int q = 0; q < Drivers.Length; q++)
        {
            ulong at = MockVirtqDriver.LayoutSize * (ulong)q;
            Write(QueueSelect, 2, (ulong)q);
            Write(QueueSize, 2, Drivers[q].Size);
            Write(QueueMsixVector, 2, (ulong)q + 1);
            Write(QueueDesc, 8, at + MockVirtqDriver.DescAddress);
            Write(QueueDriver, 8, at + MockVirtqDriver.AvailAddress);
            Write(QueueDevice, 8, at + MockVirtqDriver.UsedAddress);
            Write(QueueEnable, 2, 1);
        }
        Write(DeviceStatus, 1, Running);
    }

    /// <summary>The driver's notification for <paramref name="queue"/> (§4.1.5.2: the queue index at its own doorbell).</summary>
    public void Kick(int queue) => Write(VirtioPciLayout.NotifyOffset + (ulong)queue * VirtioPciLayout.NotifyOffMultiplier, 2, (ulong)queue);

    public void Submit(int queue, ushort head)
    {
        Drivers[queue].Publish(head);
        Kick(queue);
    }

    public ulong Read(ulong offset, int length)
    {
        Span<byte> bytes = stackalloc byte[8];
        Transport.BarRead(0, offset, bytes[..length]);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    public void Write(ulong offset, int length, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        Transport.BarWrite(0, offset, bytes[..length]);
    }

    public void WaitUntil(Func<bool> condition, string what) =>
        Assert.True(SpinWait.SpinUntil(condition, TimeSpan.FromSeconds(10)), $"timed out waiting for {what}");

    private void EnableMsix()
    {
        var (at, _) = Transport.Config.WalkCapabilities().Single(c => c.Id == MsixCapability.CapabilityId);
        Transport.Config.Write(at + 3, [0x80]);
        Transport.ConfigWritten(at + 3, 1);
    }

    public void Dispose()
    {
        Transport.Dispose();
        foreach (var d in Drivers) d.Dispose();
        if (_ownsMemory) Memory.Dispose();
    }
}

/// <summary>MSI messages as the device thread sends them (a device thread and the test read it at once).</summary>
internal sealed class ThreadSafeMsiSink : IMsiSink
{
    private readonly List<(ulong Address, uint Data)> _messages = [];

    public void Deliver(ulong address, uint data)
    {
        lock (_messages) _messages.Add((address, data));
    }

    public int Count(ulong address, uint data)
    {
        lock (_messages) return _messages.Count(m => m.Address == address && m.Data == data);
    }

    public int Total
    {
        get { lock (_messages) return _messages.Count; }
    }
}
