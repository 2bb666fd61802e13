using System.Buffers.Binary;

namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>
/// virtio-vsock (virtio 1.2 §5.10): stream sockets between the guest (CID <see cref="GuestCid"/>) and host
/// programs on Unix sockets (<see cref="VsockUnixHost"/>, Firecracker's convention). Queues: rx (0), tx (1),
/// event (2); configuration: le64 guest_cid (§5.10.4). No feature bits: stream only (§5.10.3).
/// <para>
/// The listener is open from construction, so a host program may connect before the guest driver is up; its
/// connection waits in the listen backlog (no timeout of ours: the client may apply its own) and is accepted
/// at activation. A device reset closes every connection and hands back no event: the driver that reset the
/// device knows all its connections are gone.
/// </para>
/// <para>
/// Snapshots: host sockets cannot move with a machine, so a restored device has no connections while the guest
/// still has sockets. As Firecracker does, the restored device sends VIRTIO_VSOCK_EVENT_TRANSPORT_RESET
/// (§5.10.6.6) on the event queue as soon as it runs: Linux then resets every vsock socket (ECONNRESET to the
/// programs using them) and re-reads guest_cid. Host programs reconnect through the new process's socket.
/// </para>
/// </summary>
public sealed partial class VirtioVsockDevice : IVirtioDevice
{
    private readonly VsockUnixHost _host;
    private readonly Action<string> _notice;
    private DeviceEventLoop? _loop;
    private VsockMuxer? _muxer;

    /// <summary>Listens on <paramref name="udsPath"/> at once; throws IOException if that path is taken by something other than a socket.</summary>
    public VirtioVsockDevice(ulong guestCid, string udsPath, Action<string> notice)
    {
        GuestCid = guestCid;
        _notice = notice;
        _host = new VsockUnixHost(udsPath);
    }

    public ulong GuestCid { get; }

    public VirtioDeviceType DeviceType => VirtioDeviceType.Vsock;

    public ulong DeviceFeatures => 0;

    public IReadOnlyList<ushort> QueueSizes { get; } = [256, 256, 64];

    public int ConfigSize => 8;

    public void ReadConfig(int offset, Span<byte> data)
    {
        Span<byte> config = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(config, GuestCid);
        config.Slice(offset, data.Length).CopyTo(data);
    }

    public void WriteConfig(int offset, ReadOnlySpan<byte> data) { }   // guest_cid is read-only

    public void Activate(VirtioActivation activation)
    {
        lock (_lifecycle)
        {
            ResetLocked();
            var loop = new DeviceEventLoop("virtio-vsock", e => Fault(activation, e));
            var muxer = new VsockMuxer(GuestCid, _host, activation, loop);
            _loop = loop;
            _muxer = muxer;
            muxer.Start();
            if (_restored) muxer.QueueTransportReset();
            _restored = false;
            if (_paused) loop.Pause();   // parks before its first round
            loop.Start();
            loop.Post(() => muxer.Serve(muxer.ProcessAll));
        }
    }

    public void Reset()
    {
        lock (_lifecycle) ResetLocked();
    }

    private void ResetLocked()
    {
        _loop?.Dispose();   // joins the thread: nothing touches guest memory or sockets after this
        _loop = null;
        _muxer?.CloseAll();
        _muxer = null;
    }

    public void Dispose()
    {
        Reset();
        _host.Dispose();
    }

    /// <summary>The loop's last resort: a handler threw something other than a queue error (a host-side bug or I/O failure).</summary>
    private void Fault(VirtioActivation activation, Exception e)
    {
        if (_muxer is { } muxer) muxer.Broken = true;
        _notice($"virtio-vsock: {e.Message}");
        activation.Interrupts.MarkNeedsReset($"virtio-vsock: {e.Message}");
    }
}
