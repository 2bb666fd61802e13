using System.Net.Sockets;
using KvmSharp.Devices.Virtio.Queue;

namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>The host→guest direction: control packets and host data into the guest's rx buffers (§5.10.6.1).</summary>
internal sealed partial class VsockMuxer
{
    private readonly Queue<VsockHeader> _control = new();
    private readonly Queue<VsockConnection> _ready = new();
    private readonly Descriptor[] _rxDescriptors = new Descriptor[MaxDescriptors];
    private readonly byte[] _scratch = new byte[VsockHeader.MaxPayload];
    private int _rxCount;
    private ushort _rxHead;
    private uint _rxCapacity;
    private bool _holdingRx;

    /// <summary>A control packet (no payload) to the guest; credit fields are filled in when it is written.</summary>
    private void QueueControl(VsockOp op, uint localPort, uint peerPort, uint flags = 0) =>
        _control.Enqueue(new VsockHeader(VsockHeader.HostCid, _guestCid, localPort, peerPort, 0, VsockHeader.TypeStream, op, flags, 0, 0));

    private void QueueControl(VsockOp op, VsockConnection connection, uint flags = 0) =>
        QueueControl(op, connection.LocalPort, connection.PeerPort, flags);

    private void MakeReady(VsockConnection connection)
    {
        if (connection.InReadyList) return;
        connection.InReadyList = true;
        _ready.Enqueue(connection);
    }

    /// <summary>Whether a connection in the ready list can still send (drops the ones that cannot).</summary>
    private bool HasReadyConnection()
    {
        while (_ready.TryPeek(out var c))
        {
            if (!c.Closed && c.HostReadable && c.WantsHostData) return true;
            c.InReadyList = false;
            _ready.Dequeue();
        }
        return false;
    }

    /// <summary>
    /// Fills rx buffers while there is something to send: control packets first, then host data round-robin over
    /// the connections that have it and credit for it. A popped buffer we could not fill (the socket had nothing
    /// after all) is kept for the next packet rather than returned empty.
    /// </summary>
    private void PumpRx()
    {
        var queue = _activation.Queues[RxQueue];
        bool used = false;
        while (_control.Count > 0 || HasReadyConnection())
        {
            if (!_holdingRx)
            {
                if (!queue.TryPopAvailable(out var chain)) break;
                TakeRxChain(ref chain);
            }
            uint written = _control.TryDequeue(out var header) ? WritePacket(header, []) : SendHostData(_ready.Dequeue());
            if (written == 0) continue;
            queue.AddUsed(_rxHead, written);
            _holdingRx = false;
            used = true;
        }
        if (used) _activation.NotifyUsed(RxQueue);
    }

    private void TakeRxChain(ref DescriptorChain chain)
    {
        _rxHead = chain.Head;
        _rxCount = chain.CopyTo(_rxDescriptors);
        ulong capacity = 0;
        for (int i = 0; i < _rxCount; i++)
        {
            if (!_rxDescriptors[i].IsWritable) throw new VirtQueueException("vsock rx buffer is device-readable");
            capacity += _rxDescriptors[i].Length;
        }
        if (capacity < VsockHeader.Size) throw new VirtQueueException($"vsock rx buffer of {capacity} bytes cannot hold a 44-byte header");
        _rxCapacity = (uint)Math.Min(capacity, VsockHeader.Size + VsockHeader.MaxPayload);
        _holdingRx = true;
    }

    /// <summary>One read from a host socket into one RW packet; 0 when nothing went into the held buffer.</summary>
    private uint SendHostData(VsockConnection connection)
    {
        connection.InReadyList = false;
        uint room = _rxCapacity - VsockHeader.Size;
        if (room == 0) throw new VirtQueueException("vsock rx buffer has no room for data after the header");
        int max = (int)Math.Min(room, connection.Credit.PeerFree);
        int n = connection.Socket.Receive(_scratch.AsSpan(0, max), SocketFlags.None, out var error);
        if (error == SocketError.WouldBlock)
        {
            connection.HostReadable = false;
            UpdateWatch(connection);
            return 0;
        }
        if (error != SocketError.Success)
        {
            ResetConnection(connection);
            return 0;
        }
        if (n == 0)
        {
            // End of file from the host: the guest reads EOF; it may still send until it shuts down too (§5.10.6.4).
            connection.HostEof = true;
            connection.HostReadable = false;
            QueueControl(VsockOp.Shutdown, connection, VsockHeader.ShutdownSend);
            Refresh(connection);
            return 0;
        }
        var header = new VsockHeader(VsockHeader.HostCid, _guestCid, connection.LocalPort, connection.PeerPort,
            (uint)n, VsockHeader.TypeStream, VsockOp.ReadWrite, 0, 0, 0);
        connection.Credit.OnSent((uint)n);
        uint written = WritePacket(header, _scratch.AsSpan(0, n));
        Refresh(connection);
        return written;
    }

    /// <summary>Writes header (with the connection's current credit, §5.10.6.3) and payload into the held rx buffer.</summary>
    private uint WritePacket(VsockHeader header, ReadOnlySpan<byte> payload)
    {
        if (_connections.TryGetValue(VsockConnection.Keys(header.SrcPort, header.DstPort), out var connection) && header.Op != VsockOp.Rst)
        {
            header = header with { BufAlloc = VsockCredit.BufAlloc, FwdCnt = connection.Credit.FwdCnt };
            connection.Credit.OnAdvertised();
        }
        Span<byte> raw = stackalloc byte[VsockHeader.Size];
        header.Write(raw);
        Scatter(0, raw);
        Scatter(VsockHeader.Size, payload);
        return VsockHeader.Size + (uint)payload.Length;
    }

    /// <summary>Copies <paramref name="source"/> to bytes [offset, …) of the held rx chain (bounded by <see cref="TakeRxChain"/>).</summary>
    private void Scatter(ulong offset, ReadOnlySpan<byte> source)
    {
        for (int i = 0; i < _rxCount && !source.IsEmpty; i++)
        {
            var d = _rxDescriptors[i];
            if (offset >= d.Length) { offset -= d.Length; continue; }
            int take = (int)Math.Min(d.Length - offset, (ulong)source.Length);
            if (!_activation.Memory.TryWrite(d.Address + offset, source[..take]))
                throw new VirtQueueException($"vsock rx buffer at {d.Address} is outside guest RAM");
            source = source[take..];
            offset = 0;
        }
    }
}
