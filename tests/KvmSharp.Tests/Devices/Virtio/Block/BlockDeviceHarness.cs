using System.Buffers.Binary;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;

namespace KvmSharp.Tests.Devices.Virtio.Block;

/// <summary>
/// A virtio-blk device activated on one real queue in guest memory, as the transport would do it, with a
/// driver side that builds requests the way Linux's virtio_blk does (header, data, status descriptors).
/// </summary>
internal sealed class BlockDeviceHarness : IDisposable
{
    public const uint In = 0, Out = 1, Flush = 4, GetId = 8, Discard = 11, WriteZeroes = 13;
    public const byte Ok = 0, IoError = 1, Unsupported = 2;
    public const ushort QueueSize = 256;

    private readonly EventNotifier _notifier = new();

    public BlockDeviceHarness(VirtioBlockDevice device)
    {
        Device = device;
        Driver = new MockVirtqDriver(QueueSize, ramSize: 16 << 20);
        Driver.Enable();
        Device.Activate(new VirtioActivation(Driver.Memory, VirtioFeatures.Version1 | Device.DeviceFeatures,
            [Driver.Queue], [_notifier], Interrupts));
    }

    public VirtioBlockDevice Device { get; }
    public MockVirtqDriver Driver { get; }
    public RecordingInterrupts Interrupts { get; } = new();
    public GuestMemory Memory => Driver.Memory;

    /// <summary>The driver's notification alone (the chains were published already); does not wait.</summary>
    public void Notify() => _notifier.Signal();

    /// <summary>Publishes <paramref name="head"/>, kicks the device and waits until it answers or breaks.</summary>
    public void Kick(ushort head)
    {
        Driver.Publish(head);
        _notifier.Signal();
        Interrupts.Wait();
    }

    /// <summary>A request with a 16-byte header, optional data and a status byte; returns (status, used length).</summary>
    public (byte Status, uint Used) Request(uint type, ulong sector, byte[]? outData = null, byte[]? inData = null)
    {
        var buffers = new List<(uint, bool)> { (16, false) };
        if (outData is not null) buffers.Add(((uint)outData.Length, false));
        if (inData is not null) buffers.Add(((uint)inData.Length, true));
        buffers.Add((1, true));
        ushort head = Driver.AddChain(out var at, [.. buffers]);
        WriteHeader(at[0], type, sector);
        if (outData is not null) Memory.Write(new GuestAddress(at[1]), outData);
        Memory.Write(new GuestAddress(at[^1]), (byte)0xEE);
        ushort used = Driver.UsedIdx;
        Kick(head);
        Assert.Null(Interrupts.NeedsResetReason);
        Assert.Equal((ushort)(used + 1), Driver.UsedIdx);
        var element = Driver.UsedElement(used);
        Assert.Equal(head, element.Id);
        if (inData is not null) Memory.Read(new GuestAddress(at[^2]), inData);
        return (Memory.Read<byte>(new GuestAddress(at[^1])), element.Length);
    }

    public byte Write(ulong sector, byte[] data) => Request(Out, sector, outData: data).Status;

    public byte[] Read(ulong sector, int length)
    {
        var data = new byte[length];
        var (status, used) = Request(In, sector, inData: data);
        Assert.Equal(Ok, status);
        Assert.Equal((uint)length + 1, used);
        return data;
    }

    /// <summary>DISCARD or WRITE_ZEROES with the given 16-byte segments (§5.2.6).</summary>
    public byte Ranges(uint type, params (ulong Sector, uint Count, uint Flags)[] segments)
    {
        var list = new byte[16 * segments.Length];
        for (int i = 0; i < segments.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(list.AsSpan(16 * i), segments[i].Sector);
            BinaryPrimitives.WriteUInt32LittleEndian(list.AsSpan(16 * i + 8), segments[i].Count);
            BinaryPrimitives.WriteUInt32LittleEndian(list.AsSpan(16 * i + 12), segments[i].Flags);
        }
        return Request(type, 0, outData: list).Status;
    }

    public void WriteHeader(ulong address, uint type, ulong sector)
    {
        Memory.Write(new GuestAddress(address), type);
        Memory.Write(new GuestAddress(address + 4), 0u);
        Memory.Write(new GuestAddress(address + 8), sector);
    }

    public void Dispose()
    {
        Device.Dispose();
        Driver.Dispose();
        _notifier.Dispose();
    }
}
