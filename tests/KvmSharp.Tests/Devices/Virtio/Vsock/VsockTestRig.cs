using System.Net.Sockets;
using System.Text;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;

namespace KvmSharp.Tests.Devices.Virtio.Vsock;


/// <summary>
/// A virtio-vsock device on real guest RAM with the test playing the guest driver (three mock queues) and
/// host programs on real Unix sockets in a temporary directory. Every wait has a deadline and a message.
/// </summary>
internal sealed class VsockTestRig : IDisposable
{
    public const ulong GuestCid = 3;
    public const uint RxBufferSize = 4096 + 44;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private readonly GuestMemory _memory = GuestMemory.Create(3 * MockVirtqDriver.LayoutSize);
    private readonly EventNotifier[] _notifiers = [new(), new(), new()];
    private readonly List<Socket> _sockets = [];
    private ushort _rxSeen;
    private ushort _txExpected;

    public VsockTestRig()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("kvmsharp-vsock").FullName;
        Rx = new MockVirtqDriver(_memory, 64, 0);
        Tx = new MockVirtqDriver(_memory, 64, MockVirtqDriver.LayoutSize);
        Events = new MockVirtqDriver(_memory, 16, 2 * MockVirtqDriver.LayoutSize);
        Device = new VirtioVsockDevice(GuestCid, UdsPath, Notices.Add);
    }

    public string Directory { get; }
    public string UdsPath => Path.Combine(Directory, "v.sock");
    public MockVirtqDriver Rx { get; }
    public MockVirtqDriver Tx { get; }
    public MockVirtqDriver Events { get; }
    public VirtioVsockDevice Device { get; }
    public RecordingInterrupts Interrupts { get; } = new();
    public List<string> Notices { get; } = [];

    /// <summary>DRIVER_OK with <paramref name="rxBuffers"/> rx buffers of <see cref="RxBufferSize"/> posted, as Linux does.</summary>
    public void Activate(int rxBuffers = 8)
    {
        Rx.Enable();
        Tx.Enable();
        Events.Enable();
        for (int i = 0; i < rxBuffers; i++) Rx.Publish(Rx.AddChain((RxBufferSize, true)));
        Device.Activate(new VirtioActivation(_memory, VirtioFeatures.Version1, [Rx.Queue, Tx.Queue, Events.Queue], _notifiers, Interrupts));
    }

    /// <summary>An event buffer (struct virtio_vsock_event is 4 bytes; Linux posts 8 of them at probe).</summary>
    public void PostEventBuffer(uint size = 4)
    {
        Events.Publish(Events.AddChain((size, true)));
        _notifiers[2].Signal();
    }

    /// <summary>All writes to guest RAM from here on are marked in the returned bitmap.</summary>
    public KvmSharp.Memory.DirtyPageBitmap StartWriteLog()
    {
        var log = new KvmSharp.Memory.DirtyPageBitmap(_memory.Regions);
        _memory.StartWriteLog(log);
        return log;
    }

    public void PostRxBuffer(uint size = RxBufferSize)
    {
        Rx.Publish(Rx.AddChain((size, true)));
        _notifiers[0].Signal();
    }

    /// <summary>A packet from the guest: header and payload in two buffers (Linux's layout), then waits until the device used it.</summary>
    public void Send(VsockHeader header, ReadOnlySpan<byte> payload = default)
    {
        ushort head = payload.IsEmpty ? Tx.AddChain((VsockHeader.Size, false)) : Tx.AddChain((VsockHeader.Size, false), ((uint)payload.Length, false));
        Span<byte> raw = stackalloc byte[VsockHeader.Size];
        header.Write(raw);
        _memory.Write(Tx.BufferAddress(head), raw);
        if (!payload.IsEmpty) _memory.Write(Tx.BufferAddress((ushort)((head + 1) % Tx.Size)), payload);
        PublishTx(head);
    }

    /// <summary>Publishes a tx chain the test built itself and waits until the device used it (or gave up on the queue).</summary>
    public void PublishTx(ushort head)
    {
        Tx.Publish(head);
        _notifiers[1].Signal();
        _txExpected++;
        WaitFor(() => Tx.UsedIdx == _txExpected || Interrupts.NeedsReset.Count > 0, "the device to use the tx packet");
    }

    /// <summary>A guest packet from <see cref="GuestCid"/> to the host.</summary>
    public static VsockHeader FromGuest(VsockOp op, uint srcPort, uint dstPort, uint length = 0, uint flags = 0, uint bufAlloc = 64 * 1024, uint fwdCnt = 0) =>
        new(GuestCid, VsockHeader.HostCid, srcPort, dstPort, length, VsockHeader.TypeStream, op, flags, bufAlloc, fwdCnt);

    /// <summary>The next packet the device put in an rx buffer; the buffer is given back to the device as a driver would.</summary>
    public (VsockHeader Header, byte[] Payload) NextRx()
    {
        WaitFor(() => Rx.UsedIdx != _rxSeen, "a packet in the rx queue");
        var (id, length) = Rx.UsedElement(_rxSeen++);
        var buffer = Rx.BufferAddress((ushort)id);
        Span<byte> raw = stackalloc byte[VsockHeader.Size];
        _memory.Read(buffer, raw);
        var header = VsockHeader.Read(raw);
        Assert.Equal(VsockHeader.Size + header.Length, length);
        byte[] payload = new byte[header.Length];
        _memory.Read(buffer + VsockHeader.Size, payload);
        PostRxBuffer();
        return (header, payload);
    }

    /// <summary>The device has used an rx buffer the test has not read yet.</summary>
    public bool HasRx => Rx.UsedIdx != _rxSeen;

    /// <summary>True when no rx packet arrives within <paramref name="milliseconds"/> (for "the device must stay quiet").</summary>
    public bool RxStaysEmpty(int milliseconds)
    {
        Thread.Sleep(milliseconds);
        return Rx.UsedIdx == _rxSeen;
    }

    /// <summary>A host program: a blocking client socket with a receive deadline.</summary>
    public Socket ConnectHostClient(string path)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = (int)Deadline.TotalMilliseconds };
        socket.Connect(new UnixDomainSocketEndPoint(path));
        _sockets.Add(socket);
        return socket;
    }

    /// <summary>A host service on "uds_port", as a guest connection expects.</summary>
    public Socket ListenOnHostPort(uint port)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint($"{UdsPath}_{port}"));
        listener.Listen(4);
        _sockets.Add(listener);
        return listener;
    }

    public Socket Accept(Socket listener)
    {
        Assert.True(listener.Poll(Deadline, SelectMode.SelectRead), "no connection reached the host listener in time");
        var socket = listener.Accept();
        socket.ReceiveTimeout = (int)Deadline.TotalMilliseconds;
        _sockets.Add(socket);
        return socket;
    }

    public static string ReadLine(Socket socket)
    {
        var line = new StringBuilder();
        byte[] one = new byte[1];
        while (socket.Receive(one) == 1 && one[0] != '\n') line.Append((char)one[0]);
        return line.ToString();
    }

    public static byte[] ReadExactly(Socket socket, int count)
    {
        byte[] data = new byte[count];
        for (int got = 0; got < count;)
        {
            int n = socket.Receive(data, got, count - got, SocketFlags.None);
            Assert.True(n > 0, $"host socket closed after {got} of {count} bytes");
            got += n;
        }
        return data;
    }

    public static void WaitFor(Func<bool> condition, string what)
    {
        var end = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > end) Assert.Fail($"timed out waiting for {what}");
            Thread.Sleep(1);
        }
    }

    public void Dispose()
    {
        Device.Dispose();
        foreach (var socket in _sockets) socket.Dispose();
        foreach (var n in _notifiers) n.Dispose();
        _memory.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }
}
