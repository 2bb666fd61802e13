using KvmSharp.Devices.Bus;

namespace KvmSharp.Tests.Devices;

public class IoBusTests
{
    private sealed class RecordingDevice(byte fill) : IBusDevice
    {
        public List<(ulong Offset, byte[] Data)> Writes { get; } = [];
        public void Read(ulong offset, Span<byte> data) => data.Fill((byte)(fill + offset));
        public void Write(ulong offset, ReadOnlySpan<byte> data) => Writes.Add((offset, data.ToArray()));
    }

    [Fact]
    public void DispatchesByRangeWithRelativeOffsets()
    {
        var bus = new IoBus("pio");
        var a = new RecordingDevice(0x10);
        var b = new RecordingDevice(0x20);
        bus.Register(0x3F8, 8, a);
        bus.Register(0x60, 1, b);
        Span<byte> one = stackalloc byte[1];
        Assert.True(bus.Read(0x3FA, one));
        Assert.Equal(0x12, one[0]);
        Assert.True(bus.Write(0x60, [0xAA]));
        var (offset, data) = Assert.Single(b.Writes);
        Assert.Equal(0UL, offset);
        Assert.Equal([0xAA], data);
        Assert.Empty(a.Writes);
    }

    [Fact]
    public void UnclaimedReadsAreAllOnesAndCounted()
    {
        var bus = new IoBus("pio");
        Span<byte> data = stackalloc byte[4];
        Assert.False(bus.Read(0x80, data));
        Assert.Equal(0xFFFFFFFFu, BitConverter.ToUInt32(data));
        Assert.False(bus.Write(0x80, [1]));
        Assert.Equal(2, bus.UnhandledAccesses);
    }

    [Fact]
    public void OverlappingRegistrationIsRejected()
    {
        var bus = new IoBus("pio");
        bus.Register(0x3F8, 8, new RecordingDevice(0));
        Assert.Throws<InvalidOperationException>(() => bus.Register(0x3FF, 2, new RecordingDevice(0)));
        Assert.Throws<InvalidOperationException>(() => bus.Register(0x3F0, 9, new RecordingDevice(0)));
        bus.Register(0x400, 1, new RecordingDevice(0));   // adjacent is fine
        Assert.Throws<ArgumentOutOfRangeException>(() => bus.Register(0x10, 0, new RecordingDevice(0)));
    }

    [Fact]
    public void AccessStraddlingARangeEndIsNotDispatched()
    {
        var bus = new IoBus("pio");
        var device = new RecordingDevice(0);
        bus.Register(0x70, 2, device);
        Assert.False(bus.Write(0x71, [1, 2]));
        Assert.True(bus.Write(0x70, [1, 2]));
        Assert.Single(device.Writes);
        Span<byte> data = stackalloc byte[4];
        Assert.False(bus.Read(0x70, data));
        Assert.Equal(0xFFFFFFFFu, BitConverter.ToUInt32(data));
    }

    [Fact]
    public void UnregisterFreesTheRange()
    {
        var bus = new IoBus("pio");
        bus.Register(0x60, 1, new RecordingDevice(0));
        Assert.True(bus.Unregister(0x60));
        Assert.False(bus.Unregister(0x60));
        Assert.False(bus.Write(0x60, [1]));
    }
}
