using System.Net.Sockets;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>
/// The vsock connection state machine of one activation (virtio 1.2 §5.10.6): takes the guest's packets from
/// the tx queue, keeps the table of stream connections to host Unix sockets, and fills the rx queue with
/// control packets and host data as credit allows. Runs only on the device's loop thread.
/// <para>
/// Hostile guests: a chain that breaks the queue rules (too short for a header, device-writable tx buffers,
/// read-only rx buffers) throws <see cref="VirtQueueException"/> and the device goes NEEDS_RESET; a packet that
/// is merely wrong (cids, type, op, len, credit overrun, a connection we do not know) is answered with RST.
/// </para>
/// This file: the guest→host direction (tx queue); VsockMuxer.Rx.cs: the host→guest direction (rx queue).
/// </summary>
internal sealed partial class VsockMuxer
{
    public const int RxQueue = 0, TxQueue = 1;

    /// <summary>Buffers per packet we accept; Linux uses one or two (header, payload) and a few more with zerocopy.</summary>
    private const int MaxDescriptors = 64;

    private readonly ulong _guestCid;
    private readonly VsockUnixHost _host;
    private readonly VirtioActivation _activation;
    private readonly DeviceEventLoop _loop;
    private readonly Dictionary<ulong, VsockConnection> _connections = [];
    private readonly List<(Socket Socket, List<byte> Line)> _handshakes = [];
    private readonly Descriptor[] _txDescriptors = new Descriptor[MaxDescriptors];
    private uint _nextLocalPort = FirstEphemeralPort;

    /// <summary>Host ports we pick for host-initiated connections start above the privileged range, as Firecracker's do.</summary>
    private const uint FirstEphemeralPort = 1024;

    public VsockMuxer(ulong guestCid, VsockUnixHost host, VirtioActivation activation, DeviceEventLoop loop)
    {
        _guestCid = guestCid;
        _host = host;
        _activation = activation;
        _loop = loop;
    }

    /// <summary>Set once the device went NEEDS_RESET: nothing more is served until reset.</summary>
    public bool Broken { get; set; }

    public int ConnectionCount => _connections.Count;

    /// <summary>Registers the queue notifiers and the listener with the loop (before it starts).</summary>
    public void Start()
    {
        _loop.Watch(_activation.Notifiers[RxQueue].Handle, LibcConstants.POLLIN, _ => Serve(() =>
        {
            _activation.Notifiers[RxQueue].Drain();
            PumpRx();
        }));
        _loop.Watch(_activation.Notifiers[TxQueue].Handle, LibcConstants.POLLIN, _ => Serve(() =>
        {
            _activation.Notifiers[TxQueue].Drain();
            ProcessAll();
        }));
        _loop.Watch(_host.ListenerHandle, LibcConstants.POLLIN, _ => Serve(AcceptHostClients));
        WatchEvents();
    }

    /// <summary>Looks at every queue (at activation the driver may have filled them before DRIVER_OK).</summary>
    public void ProcessAll()
    {
        ProcessTx();
        PumpRx();
        PumpEvents();
    }

    /// <summary>Closes every host socket (transport reset or device teardown); the loop has stopped.</summary>
    public void CloseAll()
    {
        foreach (var connection in _connections.Values)
        {
            connection.Closed = true;
            connection.Socket.Dispose();
        }
        _connections.Clear();
        foreach (var (socket, _) in _handshakes) socket.Dispose();
        _handshakes.Clear();
    }

    /// <summary>Runs a handler unless broken; a malformed queue marks the device NEEDS_RESET (§2.1.2).</summary>
    public void Serve(Action work)
    {
        if (Broken) return;
        try { work(); }
        catch (VirtQueueException e)
        {
            Broken = true;
            _activation.Interrupts.MarkNeedsReset($"virtio-vsock: {e.Message}");
        }
    }

    private void ProcessTx()
    {
        var queue = _activation.Queues[TxQueue];
        bool used = false;
        while (queue.TryPopAvailable(out var chain))
        {
            int count = chain.CopyTo(_txDescriptors);
            HandleGuestPacket(_txDescriptors.AsSpan(0, count));
            queue.AddUsed(chain.Head, 0);
            used = true;
        }
        if (used) _activation.NotifyUsed(TxQueue);
    }

    private void HandleGuestPacket(ReadOnlySpan<Descriptor> buffers)
    {
        ulong total = 0;
        foreach (var d in buffers)
        {
            if (d.IsWritable) throw new VirtQueueException("vsock tx buffer is device-writable");
            total += d.Length;
        }
        if (total < VsockHeader.Size) throw new VirtQueueException($"vsock tx chain of {total} bytes is shorter than the 44-byte header");
        Span<byte> raw = stackalloc byte[VsockHeader.Size];
        Gather(buffers, 0, raw);
        var header = VsockHeader.Read(raw);
        _connections.TryGetValue(VsockConnection.Keys(header.DstPort, header.SrcPort), out var connection);

        if (header.Op == VsockOp.Rst)
        {
            // Never answer an RST with an RST (§5.10.6.2 would loop); just forget the connection.
            if (connection is not null && header.SrcCid == _guestCid) Close(connection);
            return;
        }
        bool addressed = header.SrcCid == _guestCid && header.DstCid == VsockHeader.HostCid && header.Type == VsockHeader.TypeStream;
        if (!addressed || header.Length > VsockHeader.MaxPayload || header.Length > total - VsockHeader.Size)
        {
            Refuse(header, connection);
            return;
        }
        if (connection is null)
        {
            if (header.Op == VsockOp.Request) ConnectToHost(header);
            else Refuse(header, null);   // §5.10.6.2: a packet for no connection gets RST
            return;
        }

        connection.Credit.OnPeerHeader(header);
        switch (header.Op)
        {
            case VsockOp.Response when connection.State == VsockConnectionState.Connecting:
                connection.State = VsockConnectionState.Established;
                if (!VsockUnixHost.WriteOk(connection.Socket, connection.LocalPort)) { Refuse(header, connection); return; }
                break;
            case VsockOp.ReadWrite when connection.State == VsockConnectionState.Established
                                        && (connection.GuestShutdown & VsockHeader.ShutdownSend) == 0:
                if (!ForwardToHost(connection, buffers, header.Length)) return;
                break;
            case VsockOp.CreditUpdate:
                break;   // OnPeerHeader took the new credit
            case VsockOp.CreditRequest:
                QueueControl(VsockOp.CreditUpdate, connection);
                break;
            case VsockOp.Shutdown:
                connection.GuestShutdown |= header.Flags & VsockHeader.ShutdownBoth;
                break;
            default:
                // A second REQUEST, a RESPONSE out of turn, data on a half-open or shut connection, an unknown op.
                Refuse(header, connection);
                return;
        }
        Refresh(connection);
    }

    /// <summary>A guest REQUEST to host port P: connect to "uds_P" now (§5.10.6.2: RESPONSE on success, RST on failure).</summary>
    private void ConnectToHost(in VsockHeader header)
    {
        var socket = _host.TryConnectToHostPort(header.DstPort);
        if (socket is null)
        {
            QueueControl(VsockOp.Rst, header.DstPort, header.SrcPort);
            return;
        }
        var connection = new VsockConnection(socket, header.DstPort, header.SrcPort, VsockConnectionState.Established);
        connection.Credit.OnPeerHeader(header);
        _connections.Add(connection.Key, connection);
        QueueControl(VsockOp.Response, connection);
        Refresh(connection);
    }

    /// <summary>
    /// An RW packet's payload to the host socket: straight from guest memory while the socket takes it, the rest
    /// into the connection's buffer (bounded by the credit we gave). False when the connection was reset.
    /// </summary>
    private bool ForwardToHost(VsockConnection connection, ReadOnlySpan<Descriptor> buffers, uint length)
    {
        if (!connection.Credit.TryReceive(length))
        {
            ResetConnection(connection);   // the guest sent more than buf_alloc allowed
            return false;
        }
        ulong skip = VsockHeader.Size;
        uint left = length;
        foreach (var d in buffers)
        {
            if (left == 0) break;
            if (skip >= d.Length) { skip -= d.Length; continue; }
            int take = (int)Math.Min(d.Length - skip, left);
            var data = _activation.Memory.GetSpan(d.Address + skip, take);
            skip = 0;
            left -= (uint)take;
            int sent = 0;
            if (connection.PendingCount == 0)
            {
                sent = connection.Socket.Send(data, SocketFlags.None, out var error);
                if (error == SocketError.WouldBlock) sent = 0;
                else if (error != SocketError.Success) { ResetConnection(connection); return false; }
                connection.Credit.OnForwarded((uint)sent);
            }
            connection.AppendPending(data[sent..]);
        }
        return true;
    }

    /// <summary>POLLOUT: hands buffered guest bytes to the host socket. False when the connection was reset.</summary>
    private bool FlushPending(VsockConnection connection)
    {
        if (connection.PendingCount == 0) return true;
        int sent = connection.Socket.Send(connection.Pending, SocketFlags.None, out var error);
        if (error == SocketError.WouldBlock) return true;
        if (error != SocketError.Success) { ResetConnection(connection); return false; }
        connection.ConsumePending(sent);
        connection.Credit.OnForwarded((uint)sent);
        return true;
    }

    /// <summary>
    /// After anything changed on a connection: pass on the guest's SHUTDOWN(SEND) once its bytes are out, end a
    /// connection both sides have finished (with RST, as Linux expects after SHUTDOWN both ways), tell the guest
    /// about freed buffer space, and watch the socket for what we now need.
    /// </summary>
    private void Refresh(VsockConnection connection)
    {
        if (connection.Closed) return;
        if ((connection.GuestShutdown & VsockHeader.ShutdownSend) != 0 && connection.PendingCount == 0)
        {
            try { connection.Socket.Shutdown(SocketShutdown.Send); }
            catch (SocketException) { }   // the host side is gone already; the RST below or a later read will tell
        }
        if (connection.IsFinished)
        {
            ResetConnection(connection);
            return;
        }
        if (connection.Credit.ShouldUpdateGuest()) QueueControl(VsockOp.CreditUpdate, connection);
        if (connection.HostReadable && connection.WantsHostData) MakeReady(connection);
        UpdateWatch(connection);
    }

    private void UpdateWatch(VsockConnection connection)
    {
        short wanted = (short)((connection.WantsHostData && !connection.HostReadable ? LibcConstants.POLLIN : 0)
                               | (connection.PendingCount > 0 ? LibcConstants.POLLOUT : 0));
        // Not watched at all while we want nothing: poll reports hang-ups regardless of events, which would spin.
        if (wanted == connection.WatchedEvents) return;
        if (wanted == 0) _loop.Unwatch(connection.Socket.SafeHandle);
        else if (connection.WatchedEvents == 0) _loop.Watch(connection.Socket.SafeHandle, wanted, revents => Serve(() => OnSocketReady(connection, revents)));
        else _loop.Modify(connection.Socket.SafeHandle, wanted);
        connection.WatchedEvents = wanted;
    }

    private void OnSocketReady(VsockConnection connection, short revents)
    {
        if (connection.Closed) return;
        if (connection.PendingCount > 0 && !FlushPending(connection)) { PumpRx(); return; }
        if (connection.WantsHostData && (revents & (LibcConstants.POLLIN | LibcConstants.POLLHUP | LibcConstants.POLLERR)) != 0)
            connection.HostReadable = true;
        Refresh(connection);
        PumpRx();
    }

    private void AcceptHostClients()
    {
        while (_host.TryAccept() is { } client)
        {
            var entry = (client, new List<byte>());
            _handshakes.Add(entry);
            _loop.Watch(client.SafeHandle, LibcConstants.POLLIN, _ => Serve(() => OnHandshakeReadable(entry)));
        }
    }

    /// <summary>A host client's "CONNECT &lt;port&gt;\n": send the guest a REQUEST from a fresh host port (§5.10.6.2).</summary>
    private void OnHandshakeReadable((Socket Socket, List<byte> Line) entry)
    {
        var result = VsockUnixHost.ReadConnectLine(entry.Socket, entry.Line, out uint port);
        if (result == HandshakeResult.NeedMore) return;
        _loop.Unwatch(entry.Socket.SafeHandle);
        _handshakes.Remove(entry);
        if (result == HandshakeResult.Failed)
        {
            entry.Socket.Dispose();
            return;
        }
        var connection = new VsockConnection(entry.Socket, AllocateLocalPort(port), port, VsockConnectionState.Connecting);
        _connections.Add(connection.Key, connection);
        QueueControl(VsockOp.Request, connection);
        PumpRx();
    }

    private uint AllocateLocalPort(uint peerPort)
    {
        while (true)
        {
            uint port = _nextLocalPort;
            _nextLocalPort = _nextLocalPort >= int.MaxValue ? FirstEphemeralPort : _nextLocalPort + 1;
            if (!_connections.ContainsKey(VsockConnection.Keys(port, peerPort))) return port;
        }
    }

    /// <summary>Answers a packet we will not take with RST (§5.10.6.2) and drops the connection it named, if any.</summary>
    private void Refuse(in VsockHeader header, VsockConnection? connection)
    {
        if (connection is not null) ResetConnection(connection);
        else QueueControl(VsockOp.Rst, header.DstPort, header.SrcPort);
    }

    private void ResetConnection(VsockConnection connection)
    {
        QueueControl(VsockOp.Rst, connection.LocalPort, connection.PeerPort);
        Close(connection);
    }

    private void Close(VsockConnection connection)
    {
        if (connection.WatchedEvents != 0) _loop.Unwatch(connection.Socket.SafeHandle);
        connection.WatchedEvents = 0;
        connection.Closed = true;
        connection.Socket.Dispose();
        _connections.Remove(connection.Key);
    }

    /// <summary>Copies bytes [offset, offset+destination.Length) of a chain's buffers into <paramref name="destination"/>.</summary>
    private void Gather(ReadOnlySpan<Descriptor> buffers, ulong offset, Span<byte> destination)
    {
        foreach (var d in buffers)
        {
            if (destination.IsEmpty) return;
            if (offset >= d.Length) { offset -= d.Length; continue; }
            int take = (int)Math.Min(d.Length - offset, (ulong)destination.Length);
            _activation.Memory.Read(d.Address + offset, destination[..take]);
            destination = destination[take..];
            offset = 0;
        }
    }
}
