using System.Runtime.InteropServices;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>
/// A virtio-net backend on one end of a SOCK_SEQPACKET socket pair: like a tap, each read and write is one whole
/// frame (vnet header included). The test plays the host network on the other end.
/// </summary>
internal sealed unsafe class SocketPairBackend : INetBackend
{
    private readonly FileDescriptor _device;

    public SocketPairBackend()
    {
        int* fds = stackalloc int[2];
        if (NetImports.SocketPair(NetImports.AF_UNIX, NetImports.SOCK_SEQPACKET | NetImports.SOCK_NONBLOCK | NetImports.SOCK_CLOEXEC, 0, fds) < 0)
            throw new NativeException("socketpair", Marshal.GetLastPInvokeError());
        _device = new FileDescriptor(fds[0]);
        Host = new FileDescriptor(fds[1]);
    }

    /// <summary>The host network's end.</summary>
    public FileDescriptor Host { get; }

    private int _receiveCalls;

    public int ReceiveCalls => Volatile.Read(ref _receiveCalls);
    public uint? Offloads { get; private set; }

    public SafeHandle Handle => _device;
    public bool SupportsOffloads => true;

    public int Receive(Span<byte> buffer)
    {
        Interlocked.Increment(ref _receiveCalls);
        return FrameIo.Read(_device, buffer);
    }

    public int Send(ReadOnlySpan<byte> frame) => FrameIo.Write(_device, frame);
    public void SetOffloads(uint tunFlags) => Offloads = tunFlags;

    public void Dispose()
    {
        _device.Dispose();
        Host.Dispose();
    }
}
