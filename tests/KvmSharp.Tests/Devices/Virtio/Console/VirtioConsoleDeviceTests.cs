using System.Buffers.Binary;
using System.Text;
using KvmSharp.Devices.Legacy;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Console;
using static KvmSharp.Tests.Devices.Virtio.MockVirtqDriver;

namespace KvmSharp.Tests.Devices.Virtio.Console;

public class VirtioConsoleDeviceTests
{
    private const int Receive = 0, Transmit = 1;

    /// <summary>Guest output as the host sees it; written on the device thread, read by the test.</summary>
    private sealed class HostSink : ISerialOutput
    {
        private readonly Lock _lock = new();
        private readonly List<byte> _bytes = [];
        public void Write(ReadOnlySpan<byte> bytes) { lock (_lock) _bytes.AddRange(bytes.ToArray()); }
        public string Text { get { lock (_lock) return Encoding.ASCII.GetString(_bytes.ToArray()); } }
        public int Count { get { lock (_lock) return _bytes.Count; } }
    }

    [Fact]
    public void TransmittedBytesReachTheHostInOrder()
    {
        var sink = new HostSink();
        using var h = new VirtioDeviceHarness(new VirtioConsoleDevice(sink, _ => { }));
        h.Activate();
        var q = h.Drivers[Transmit];
        ushort first = q.AddChain((5, false), (6, false));
        h.Memory.Write(q.BufferAddress(first), "hello"u8);
        h.Memory.Write(q.BufferAddress((ushort)(first + 1)), " world"u8);
        ushort second = q.AddChain((1, false));
        h.Memory.Write(q.BufferAddress(second), "!"u8);
        q.Publish(first);
        h.Submit(Transmit, second);
        h.WaitForUsed(Transmit, 2);

        Assert.Equal("hello world!", sink.Text);
        Assert.Equal(((uint)first, 0u), q.UsedElement(0));
    }

    [Fact]
    public void HostInputWaitsForReceiveBuffersAndFillsThemInOrder()
    {
        var device = new VirtioConsoleDevice(new HostSink(), _ => { });
        using var h = new VirtioDeviceHarness(device);
        Assert.Equal(3, device.EnqueueInput("abc"u8));   // before DRIVER_OK: held
        h.Activate();
        var q = h.Drivers[Receive];
        ushort small = q.AddChain((2, true));
        ushort large = q.AddChain((8, true));
        q.Publish(small);
        h.Submit(Receive, large);
        h.WaitForUsed(Receive, 2);

        Assert.Equal(((uint)small, 2u), q.UsedElement(0));
        Assert.Equal(((uint)large, 1u), q.UsedElement(1));
        Assert.Equal("ab"u8.ToArray(), h.Memory.GetSpan(q.BufferAddress(small), 2).ToArray());
        Assert.Equal((byte)'c', h.Memory.Read<byte>(q.BufferAddress(large)));
        Assert.Equal(0, device.PendingInput);
    }

    [Fact]
    public void InputArrivingLaterGoesIntoAPostedBuffer()
    {
        var device = new VirtioConsoleDevice(new HostSink(), _ => { });
        using var h = new VirtioDeviceHarness(device);
        h.Activate();
        var q = h.Drivers[Receive];
        ushort head = q.AddChain((16, true));
        h.Submit(Receive, head);
        Assert.Equal(2, device.EnqueueInput("ls"u8));
        h.WaitForUsed(Receive, 1);
        Assert.Equal(((uint)head, 2u), q.UsedElement(0));
        Assert.Equal("ls"u8.ToArray(), h.Memory.GetSpan(q.BufferAddress(head), 2).ToArray());
    }

    [Fact]
    public void TheInputBufferIsBoundedAndTakesNoMoreThanFits()
    {
        var device = new VirtioConsoleDevice(new HostSink(), _ => { });
        var input = new byte[VirtioConsoleDevice.HostInputBufferSize + 100];
        Assert.Equal(VirtioConsoleDevice.HostInputBufferSize, device.EnqueueInput(input));
        Assert.Equal(0, device.EnqueueInput("x"u8));
        device.Dispose();
    }

    [Fact]
    public void InputAfterDisposeIsSwallowedNotThrown()
    {
        // The console's pump thread may outlive the device by a moment while the machine shuts down.
        var device = new VirtioConsoleDevice(new HostSink(), _ => { });
        device.Dispose();
        Assert.Equal(3, device.EnqueueInput("abc"u8));
        Assert.Equal(0, device.PendingInput);
    }

    [Fact]
    public void AnEmergencyWriteSendsOneByte()
    {
        var sink = new HostSink();
        var device = new VirtioConsoleDevice(sink, _ => { });
        Assert.True(VirtioFeatures.Has(device.DeviceFeatures, VirtioConsoleDevice.FeatureEmergencyWrite));
        Span<byte> emergWr = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(emergWr, 'Z');
        device.WriteConfig(8, emergWr);
        device.WriteConfig(0, [1, 2, 3, 4]);   // cols/rows are read-only: nothing happens
        Assert.Equal("Z", sink.Text);
        device.Dispose();
    }

    [Fact]
    public void ConfigShowsOnePortAndNoSize()
    {
        var device = new VirtioConsoleDevice(new HostSink(), _ => { });
        Assert.Equal(12, device.ConfigSize);   // cols, rows, max_nr_ports, emerg_wr (virtio 1.2 §5.3.4)
        Span<byte> config = stackalloc byte[12];
        device.ReadConfig(0, config);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(config));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(config[4..]));
        Assert.Equal(2, device.QueueSizes.Count);
        device.Dispose();
    }

    [Fact]
    public void AReceiveChainWithoutWritableBuffersGetsNothingAndKeepsTheInput()
    {
        var device = new VirtioConsoleDevice(new HostSink(), _ => { });
        using var h = new VirtioDeviceHarness(device);
        device.EnqueueInput("q"u8);
        h.Activate();
        var q = h.Drivers[Receive];
        h.Submit(Receive, q.AddChain((4, false)));
        h.WaitForUsed(Receive, 1);
        Assert.Equal(0u, q.UsedElement(0).Length);
        Assert.Equal(1, device.PendingInput);
        Assert.Empty(h.Interrupts.NeedsReset);
    }

    [Fact]
    public void WritableTransmitBuffersAreNotSent()
    {
        var sink = new HostSink();
        using var h = new VirtioDeviceHarness(new VirtioConsoleDevice(sink, _ => { }));
        h.Activate();
        var q = h.Drivers[Transmit];
        ushort head = q.AddChain((2, false), (4, true));
        h.Memory.Write(q.BufferAddress(head), "ok"u8);
        h.Memory.Write(q.BufferAddress((ushort)(head + 1)), "XXXX"u8);
        h.Submit(Transmit, head);
        h.WaitForUsed(Transmit, 1);
        Assert.Equal("ok", sink.Text);
    }

    [Fact]
    public void AHostileTransmitChainMarksTheDeviceBroken()
    {
        var sink = new HostSink();
        using var h = new VirtioDeviceHarness(new VirtioConsoleDevice(sink, _ => { }));
        h.Activate();
        var q = h.Drivers[Transmit];
        // Readable after writable: a driver must not build it (virtio 1.2 §2.7.4.2).
        q.SetDescriptor(0, q.DescriptorTable - DescAddress + BufferBase, 4, (ushort)(Flags.Write | Flags.Next), 1);
        q.SetDescriptor(1, q.DescriptorTable - DescAddress + BufferBase, 4, 0);
        h.Submit(Transmit, 0);
        h.WaitUntil(() => !h.Interrupts.NeedsReset.IsEmpty, "NEEDS_RESET");
        Assert.Contains("readable descriptor after", h.Interrupts.NeedsReset.Single());
        h.Device.Reset();
        Assert.Equal(0, q.UsedIdx);
    }

    [Fact]
    public void AHugeReceiveBufferIsFilledOnlyWithWhatIsPending()
    {
        var device = new VirtioConsoleDevice(new HostSink(), _ => { });
        using var h = new VirtioDeviceHarness(device);
        h.Activate();
        var q = h.Drivers[Receive];
        // 2 MiB claimed; only the pending byte is written and the used length says 1.
        q.SetDescriptor(0, q.DescriptorTable - DescAddress + BufferBase, 2 << 20, Flags.Write);
        h.Submit(Receive, 0);
        device.EnqueueInput("y"u8);
        h.WaitForUsed(Receive, 1);
        Assert.Equal(1u, q.UsedElement(0).Length);
    }
}
