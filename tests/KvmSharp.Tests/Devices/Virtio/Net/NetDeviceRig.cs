using System.Diagnostics;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>
/// A virtio-net device activated without a transport: a mock driver for each queue in one guest RAM, real
/// eventfd notifiers, a socket-pair backend whose other end the test holds, and recorded interrupts.
/// </summary>
internal sealed class NetDeviceRig : IDisposable
{
    private const ulong QueueWindow = 4 << 20;
    public static readonly byte[] Mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

    private readonly EventNotifier[] _notifiers = [new(), new()];

    /// <param name="backend">The host side; null: a socket pair (<see cref="Socket"/>).</param>
    public NetDeviceRig(INetBackend? backend = null, ushort queueSize = 256)
    {
        Backend = backend ?? new SocketPairBackend();
        Memory = GuestMemory.Create(2 * QueueWindow);
        Rx = new MockVirtqDriver(Memory, queueSize, 0, QueueWindow);
        Tx = new MockVirtqDriver(Memory, queueSize, QueueWindow, QueueWindow);
        Device = new VirtioNetDevice(Backend, Mac, "rig", Notices.Add);
    }

    public GuestMemory Memory { get; }
    public MockVirtqDriver Rx { get; }
    public MockVirtqDriver Tx { get; }
    public INetBackend Backend { get; }
    public SocketPairBackend Socket => (SocketPairBackend)Backend;
    public RecordingInterrupts Interrupts { get; } = new();
    public List<string> Notices { get; } = [];
    public VirtioNetDevice Device { get; }
    public NetStatistics Statistics => Device.Statistics;

    /// <summary>Enables both queues and activates the device with <paramref name="features"/> (VERSION_1 added).</summary>
    public void Activate(ulong features)
    {
        Rx.Enable();
        Tx.Enable();
        Device.Activate(new VirtioActivation(Memory, features | VirtioFeatures.Version1, [Rx.Queue, Tx.Queue], _notifiers, Interrupts));
    }

    public void NotifyRx() => _notifiers[VirtioNetDevice.ReceiveQueue].Signal();
    public void NotifyTx() => _notifiers[VirtioNetDevice.TransmitQueue].Signal();

    /// <summary>A frame from the host network to the guest: header then <paramref name="frame"/>.</summary>
    public void HostSends(ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame)
    {
        var message = new byte[header.Length + frame.Length];
        header.CopyTo(message);
        frame.CopyTo(message.AsSpan(header.Length));
        Assert.Equal(0, FrameIo.Write(Socket.Host, message));
    }

    /// <summary>The next frame the device sent to the host, waiting for it; fails if none comes.</summary>
    public byte[] HostReceives()
    {
        var buffer = new byte[128 * 1024];
        WaitUntil(() => HandlePoll.Wait(Socket.Host, LibcConstants.POLLIN, 100) > 0, "the device sent no frame to the host");
        int length = FrameIo.Read(Socket.Host, buffer);
        Assert.True(length > 0, $"read from the host end: {length}");
        return buffer[..length];
    }

    /// <summary>Whether a frame from the device is waiting at the host end now (no waiting).</summary>
    public bool HostHasFrame()
    {
        return HandlePoll.Wait(Socket.Host, LibcConstants.POLLIN, 0) > 0;
    }

    /// <summary>
    /// Sends <paramref name="count"/> runt tx chains (shorter than the header: dropped, counted in TxDropped) one at a
    /// time and waits for each to be used, so each is one more full round of the device's loop.
    /// </summary>
    public void RoundTrips(int count)
    {
        for (int i = 0; i < count; i++)
        {
            ushort used = Tx.UsedIdx;
            Tx.Publish(Tx.AddChain((4, false)));
            NotifyTx();
            WaitUntil(() => Tx.UsedIdx != used, "a tx barrier chain was never used");
        }
    }

    /// <summary>The guest address of descriptor <paramref name="index"/>'s buffer in <paramref name="queue"/>'s table.</summary>
    public GuestAddress Buffer(MockVirtqDriver queue, int index) => new(Memory.Read<ulong>(new GuestAddress(queue.DescriptorTable + 16ul * (ulong)index)));

    /// <summary>What the device wrote into rx chain <paramref name="head"/> (one descriptor per chain) as the used ring says.</summary>
    public byte[] RxWritten(ushort usedPosition)
    {
        var (head, length) = Rx.UsedElement(usedPosition);
        var data = new byte[length];
        Memory.Read(Buffer(Rx, (int)head), data);
        return data;
    }

    /// <summary>A deadline against hangs, not a timing assertion: the device normally answers in microseconds.</summary>
    public static void WaitUntil(Func<bool> condition, string failure)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > TimeSpan.FromSeconds(20)) Assert.Fail(failure);
            Thread.Sleep(1);
        }
    }

    public void Dispose()
    {
        Device.Dispose();
        foreach (var n in _notifiers) n.Dispose();
        Rx.Dispose();
        Tx.Dispose();
        Memory.Dispose();
    }
}
