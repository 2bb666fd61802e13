using System.Buffers.Binary;
using KvmSharp.Devices;
using KvmSharp.Devices.Pci;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Transport;
using KvmSharp.Memory;
using KvmSharp.Tests.Devices.Pci;

namespace KvmSharp.Tests.Devices.Virtio.Transport;

/// <summary>
/// The virtio-pci transport driven the way Linux's virtio_pci_modern drives it (virtio 1.2 §3.1.1,
/// §4.1.4), with a recording device behind it. Offsets are spelled out here from the spec, not taken
/// from the code under test.
/// </summary>
public sealed class VirtioPciDeviceTests : IDisposable
{
    // struct virtio_pci_common_cfg offsets (§4.1.4.3).
    private const ulong DeviceFeatureSelect = 0x00, DeviceFeature = 0x04, DriverFeatureSelect = 0x08, DriverFeature = 0x0C;
    private const ulong ConfigMsixVector = 0x10, NumQueues = 0x12, DeviceStatus = 0x14, ConfigGeneration = 0x15;
    private const ulong QueueSelect = 0x16, QueueSize = 0x18, QueueMsixVector = 0x1A, QueueEnable = 0x1C;
    private const ulong QueueDesc = 0x20, QueueDriver = 0x28, QueueDevice = 0x30;
    private const byte Acknowledge = 1, Driver = 2, DriverOk = 4, FeaturesOk = 8, NeedsReset = 64;

    private readonly GuestMemory _memory = GuestMemory.Create(4 << 20);
    private readonly RecordingDevice _device = new();
    private readonly RecordingMsiSink _msi = new();
    private readonly RecordingLine _intx = new();
    private readonly List<string> _notices = [];
    private readonly VirtioPciDevice _transport;

    public VirtioPciDeviceTests() =>
        _transport = new VirtioPciDevice(_device, _memory, _msi, _intx, "test 00:01.0", _notices.Add);

    public void Dispose()
    {
        _transport.Dispose();
        _memory.Dispose();
    }

    [Fact]
    public void ConfigSpaceNamesAModernVirtioDeviceWithItsCapabilities()
    {
        var c = _transport.Config;
        Assert.Equal(0x1AF4u, c.ReadUInt32(0) & 0xFFFF);
        Assert.Equal(0x1040u + 4, c.ReadUInt32(0) >> 16);
        Assert.True((c.ReadUInt32(0x08) & 0xFF) >= 1, "modern devices have revision 1 or more (§4.1.2.1)");
        var types = new List<byte>();
        bool msix = false;
        for (int at = (int)(c.ReadUInt32(0x34) & 0xFF); at != 0; at = (int)((c.ReadUInt32(at) >> 8) & 0xFF))
        {
            uint head = c.ReadUInt32(at);
            if ((head & 0xFF) == 0x11) msix = true;
            if ((head & 0xFF) != 0x09) continue;
            types.Add((byte)(head >> 24));
            Assert.Equal(0u, c.ReadUInt32(at + 4) & 0xFF); // bar
        }
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, types.Order().ToArray());
        Assert.True(msix);
    }

    [Fact]
    public void DriverInitialisationActivatesTheDeviceWithTheNegotiatedFeatures()
    {
        Initialise(VirtioFeatures.Version1 | VirtioFeatures.EventIndex | 1);
        Assert.Equal(1, _device.Activations);
        Assert.Equal(VirtioFeatures.Version1 | VirtioFeatures.EventIndex | 1, _device.Activation!.Features);
        Assert.True(_device.Activation.Queues[0].IsReady);
        Assert.True(_device.Activation.Queues[0].EventIdx);
        Assert.Equal((ushort)0x40, _device.Activation.Queues[0].Size);
        Assert.False(_device.Activation.Queues[1].IsReady, "queue 1 was never enabled");
        Assert.Equal((ulong)(DriverOk | FeaturesOk | Driver | Acknowledge), Read(DeviceStatus, 1));
    }

    [Fact]
    public void DeviceFeaturesReadInTwoHalvesIncludeVersion1()
    {
        Write(DeviceFeatureSelect, 4, 0);
        ulong low = Read(DeviceFeature, 4);
        Write(DeviceFeatureSelect, 4, 1);
        ulong high = Read(DeviceFeature, 4);
        ulong features = low | (high << 32);
        Assert.Equal(RecordingDevice.Features | VirtioFeatures.TransportOffered, features);
        Write(DeviceFeatureSelect, 4, 2);
        Assert.Equal(0ul, Read(DeviceFeature, 4));
    }

    [Theory]
    [InlineData(0ul)]                                   // no VERSION_1: a legacy driver we do not serve
    [InlineData(VirtioFeatures.Version1 | (1ul << 5))]  // a bit the device never offered
    public void FeaturesOkIsRefusedForAFeatureSetTheDeviceDidNotOffer(ulong features)
    {
        Write(DeviceStatus, 1, Acknowledge | Driver);
        WriteFeatures(features);
        Write(DeviceStatus, 1, Acknowledge | Driver | FeaturesOk);
        Assert.Equal(0ul, Read(DeviceStatus, 1) & FeaturesOk);
        Write(DeviceStatus, 1, Acknowledge | Driver | FeaturesOk | DriverOk);
        Assert.Equal(0, _device.Activations);
    }

    [Fact]
    public void NotifyingAQueueSignalsItsNotifier()
    {
        Initialise(VirtioFeatures.Version1);
        // DRIVER_OK signals every queue once (notifications before it had nobody to drain them).
        Assert.True(_transport.NotifierAddress(0).Notifier.Drain());
        var (offset, notifier) = _transport.NotifierAddress(1);
        Assert.True(notifier.Drain());
        _transport.BarWrite(0, offset, [1, 0]);
        Assert.True(notifier.Drain());
        Assert.False(_transport.NotifierAddress(0).Notifier.Drain());
    }

    [Fact]
    public void WithoutMsixAQueueInterruptRaisesIntxUntilTheIsrIsRead()
    {
        Initialise(VirtioFeatures.Version1);
        _transport.SignalQueue(0);
        Assert.True(_intx.High);
        Span<byte> isr = stackalloc byte[1];
        _transport.BarRead(0, 0x1000, isr);
        Assert.Equal(1, isr[0]);
        Assert.False(_intx.High);
        _transport.BarRead(0, 0x1000, isr);
        Assert.Equal(0, isr[0]);
    }

    [Fact]
    public void WithMsixAQueueInterruptSendsTheVectorsMessage()
    {
        Initialise(VirtioFeatures.Version1, queueVector: 1);
        EnableMsix();
        // Table entry 1 at BAR offset 0x4000 + 16 (address, data, unmasked).
        _transport.BarWrite(0, 0x4010, BitConverter.GetBytes(0xFEE0_0000ul));
        _transport.BarWrite(0, 0x4018, BitConverter.GetBytes(0x41u));
        _transport.BarWrite(0, 0x401C, BitConverter.GetBytes(0u));
        _transport.SignalQueue(0);
        Assert.Equal([(0xFEE0_0000ul, 0x41u)], _msi.Messages);
        Assert.False(_intx.High);
    }

    [Fact]
    public void AVectorBeyondTheTableReadsBackAsNoVector()
    {
        Write(QueueSelect, 2, 0);
        Write(QueueMsixVector, 2, 50);
        Assert.Equal(0xFFFFul, Read(QueueMsixVector, 2));
        Write(ConfigMsixVector, 2, 2);
        Assert.Equal(2ul, Read(ConfigMsixVector, 2));
    }

    [Fact]
    public void ResetStopsTheDeviceAndClearsEverything()
    {
        Initialise(VirtioFeatures.Version1);
        var queue = _device.Activation!.Queues[0];
        Write(DeviceStatus, 1, 0);
        Assert.Equal(1, _device.Resets);
        Assert.Equal(0ul, Read(DeviceStatus, 1));
        Assert.False(queue.IsReady);
        Write(QueueSelect, 2, 0);
        Assert.Equal(0x80ul, Read(QueueSize, 2));
        Assert.Equal(0ul, Read(QueueDesc, 4));
    }

    [Fact]
    public void AQueueInUnusableMemoryMarksTheDeviceNeedsReset()
    {
        Write(DeviceStatus, 1, Acknowledge | Driver);
        WriteFeatures(VirtioFeatures.Version1);
        Write(DeviceStatus, 1, Acknowledge | Driver | FeaturesOk);
        Write(QueueSelect, 2, 0);
        Write(QueueDesc, 4, 0xFFFF_0000); // past the 4 MiB of RAM
        Write(QueueEnable, 2, 1);
        Assert.NotEqual(0ul, Read(DeviceStatus, 1) & NeedsReset);
        Write(DeviceStatus, 1, Acknowledge | Driver | FeaturesOk | DriverOk);
        Assert.Equal(0, _device.Activations);
        Assert.Single(_notices);
    }

    [Fact]
    public void TheDeviceReportingABrokenDriverSetsNeedsResetAndAConfigInterrupt()
    {
        Initialise(VirtioFeatures.Version1);
        ulong generation = Read(ConfigGeneration, 1);
        _device.Activation!.Interrupts.MarkNeedsReset("test");
        Assert.NotEqual(0ul, Read(DeviceStatus, 1) & NeedsReset);
        Assert.NotEqual(generation, Read(ConfigGeneration, 1));
        Span<byte> isr = stackalloc byte[1];
        _transport.BarRead(0, 0x1000, isr);
        Assert.Equal(2, isr[0]);
        // A driver status write keeps the device's NEEDS_RESET.
        Write(DeviceStatus, 1, Acknowledge | Driver | FeaturesOk | DriverOk);
        Assert.NotEqual(0ul, Read(DeviceStatus, 1) & NeedsReset);
    }

    [Theory]
    [InlineData(DeviceStatus, 4)]   // a byte field read as a dword
    [InlineData(QueueSize, 1)]      // a word field read as a byte
    [InlineData(0x13ul, 1)]         // the middle of num_queues
    [InlineData(0x22ul, 2)]         // the middle of queue_desc
    public void AccessesOfTheWrongSizeReadZeroAndWriteNothing(ulong offset, int length)
    {
        Assert.Equal(0ul, Read(offset, length));
        Write(offset, length, 0xFFFF_FFFF);
        Assert.Equal(0ul, Read(DeviceStatus, 1));
        Assert.Equal(2ul, Read(NumQueues, 2));
    }

    [Fact]
    public void DeviceConfigurationIsBoundedByTheDevicesSize()
    {
        Span<byte> data = stackalloc byte[4];
        _transport.BarRead(0, 0x2000, data);
        Assert.Equal(0x04030201u, BinaryPrimitives.ReadUInt32LittleEndian(data));
        _transport.BarRead(0, 0x2006, data); // straddles the end of the 8-byte config
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(data));
        _transport.BarWrite(0, 0x2004, [9]);
        Assert.Equal([(4, (byte)9)], _device.ConfigWrites);
    }

    private void Initialise(ulong features, ushort queueVector = 0xFFFF)
    {
        Write(DeviceStatus, 1, 0);
        Write(DeviceStatus, 1, Acknowledge);
        Write(DeviceStatus, 1, Acknowledge | Driver);
        WriteFeatures(features);
        Write(DeviceStatus, 1, Acknowledge | Driver | FeaturesOk);
        Assert.Equal((ulong)FeaturesOk, Read(DeviceStatus, 1) & FeaturesOk);
        Write(QueueSelect, 2, 0);
        Write(QueueSize, 2, 0x40);
        Write(QueueMsixVector, 2, queueVector);
        Write(QueueDesc, 4, 0x1000);
        Write(QueueDesc + 4, 4, 0);
        Write(QueueDriver, 4, 0x2000);
        Write(QueueDriver + 4, 4, 0);
        Write(QueueDevice, 8, 0x3000);
        Write(QueueEnable, 2, 1);
        Write(DeviceStatus, 1, Acknowledge | Driver | FeaturesOk | DriverOk);
    }

    private void WriteFeatures(ulong features)
    {
        Write(DriverFeatureSelect, 4, 0);
        Write(DriverFeature, 4, (uint)features);
        Write(DriverFeatureSelect, 4, 1);
        Write(DriverFeature, 4, (uint)(features >> 32));
    }

    private void EnableMsix()
    {
        var c = _transport.Config;
        for (int at = (int)(c.ReadUInt32(0x34) & 0xFF); at != 0; at = (int)((c.ReadUInt32(at) >> 8) & 0xFF))
            if ((c.ReadUInt32(at) & 0xFF) == 0x11)
            {
                c.Write(at + 3, [0x80]);
                _transport.ConfigWritten(at + 3, 1);
                return;
            }
        Assert.Fail("no MSI-X capability");
    }

    private ulong Read(ulong offset, int length)
    {
        Span<byte> bytes = stackalloc byte[8];
        _transport.BarRead(0, offset, bytes[..length]);
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    private void Write(ulong offset, int length, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        _transport.BarWrite(0, offset, bytes[..length]);
    }

    private sealed class RecordingLine : IInterruptLine
    {
        public bool High { get; private set; }
        public void SetLevel(bool high) => High = high;
    }

    /// <summary>An entropy-typed device with two queues (sizes 128 and 64) and 8 bytes of config 01 02 … 08.</summary>
    private sealed class RecordingDevice : IVirtioDevice
    {
        public const ulong Features = 1;
        public VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;
        public ulong DeviceFeatures => Features;
        public IReadOnlyList<ushort> QueueSizes { get; } = [128, 64];
        public int ConfigSize => 8;
        public int Activations { get; private set; }
        public int Resets { get; private set; }
        public VirtioActivation? Activation { get; private set; }
        public List<(int, byte)> ConfigWrites { get; } = [];

        public void ReadConfig(int offset, Span<byte> data)
        {
            for (int i = 0; i < data.Length; i++) data[i] = (byte)(offset + i + 1);
        }

        public void WriteConfig(int offset, ReadOnlySpan<byte> data) => ConfigWrites.Add((offset, data[0]));

        public void Activate(VirtioActivation activation)
        {
            Activations++;
            Activation = activation;
        }

        public void Reset()
        {
            Resets++;
            Activation = null;
        }

        public void Dispose() { }
    }
}
