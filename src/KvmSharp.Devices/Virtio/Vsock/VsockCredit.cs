namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>
/// Credit-based flow control of one stream connection (virtio 1.2 §5.10.6.3), both ways. Counters are
/// free-running 32-bit values, so all differences are taken modulo 2^32 as the spec intends.
/// <list type="bullet">
/// <item>Towards the guest: we may have at most the guest's buf_alloc bytes in flight, i.e. never more than
/// <c>peer_buf_alloc - (tx_cnt - peer_fwd_cnt)</c> (<see cref="PeerFree"/>).</item>
/// <item>From the guest: we advertise <see cref="BufAlloc"/> and our fwd_cnt (bytes handed on to the host
/// socket); the guest's idea of our free space is what it last heard from us, so we send a CREDIT_UPDATE
/// when that idea gets low (<see cref="ShouldUpdateGuest"/>).</item>
/// </list>
/// </summary>
public sealed class VsockCredit
{
    /// <summary>Our receive buffer per connection: what the guest may send before we forward it.</summary>
    public const uint BufAlloc = 256 * 1024;

    private uint _peerBufAlloc;
    private uint _peerFwdCnt;
    private uint _txCnt;
    private uint _rxCnt;
    private uint _fwdCnt;
    private uint _advertisedFwdCnt;

    /// <summary>Our fwd_cnt: guest bytes we have passed on to the host.</summary>
    public uint FwdCnt => _fwdCnt;

    /// <summary>Bytes received from the guest and not yet passed on (what we hold in our buffer).</summary>
    public uint Buffered => _rxCnt - _fwdCnt;

    /// <summary>How many more bytes the guest can take now.</summary>
    public uint PeerFree
    {
        get
        {
            uint inFlight = _txCnt - _peerFwdCnt;
            // A guest that moves fwd_cnt past what we sent, or shrinks buf_alloc below what is in flight, gets nothing.
            return inFlight > _peerBufAlloc ? 0 : _peerBufAlloc - inFlight;
        }
    }

    /// <summary>Takes buf_alloc and fwd_cnt from any packet the guest sends on this connection.</summary>
    public void OnPeerHeader(in VsockHeader header)
    {
        _peerBufAlloc = header.BufAlloc;
        _peerFwdCnt = header.FwdCnt;
    }

    /// <summary>We put <paramref name="bytes"/> of payload in an rx buffer.</summary>
    public void OnSent(uint bytes) => _txCnt += bytes;

    /// <summary>
    /// The guest sent <paramref name="bytes"/> of payload; false when that overruns the buffer we advertised
    /// (the guest ignored our credit: hostile, the connection is reset).
    /// </summary>
    public bool TryReceive(uint bytes)
    {
        if ((ulong)Buffered + bytes > BufAlloc) return false;
        _rxCnt += bytes;
        return true;
    }

    /// <summary>We passed <paramref name="bytes"/> of guest data on to the host.</summary>
    public void OnForwarded(uint bytes) => _fwdCnt += bytes;

    /// <summary>Records that a packet carrying our current fwd_cnt went to the guest.</summary>
    public void OnAdvertised() => _advertisedFwdCnt = _fwdCnt;

    /// <summary>
    /// True when the guest believes less than half our buffer is free although we have since forwarded
    /// more: a CREDIT_UPDATE lets it go on sending (otherwise a one-way guest→host stream would stall).
    /// </summary>
    public bool ShouldUpdateGuest()
    {
        uint believedUsed = _rxCnt - _advertisedFwdCnt;
        return _fwdCnt != _advertisedFwdCnt && believedUsed > BufAlloc / 2;
    }
}
