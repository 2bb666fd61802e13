using System.Net.Sockets;

namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>Where a connection is in its life (virtio 1.2 §5.10.6.2–.6.4).</summary>
public enum VsockConnectionState
{
    /// <summary>Host-initiated: REQUEST queued or sent to the guest, waiting for its RESPONSE or RST.</summary>
    Connecting,
    /// <summary>Both sides agreed; data flows as credit allows.</summary>
    Established,
}

/// <summary>
/// One stream connection between a guest port and a host Unix socket: its ports, state, shutdown flags,
/// credit (<see cref="VsockCredit"/>) and the guest bytes the host socket has not taken yet. Owned by the
/// device's loop thread.
/// </summary>
public sealed class VsockConnection(Socket socket, uint localPort, uint peerPort, VsockConnectionState state)
{
    /// <summary>Made on first use: most connections never have the host socket push back.</summary>
    private byte[]? _pending;
    private int _pendingStart;
    private int _pendingCount;

    public Socket Socket { get; } = socket;

    /// <summary>Our port (the host side's): the guest's dst_port.</summary>
    public uint LocalPort { get; } = localPort;

    /// <summary>The guest's port: its src_port.</summary>
    public uint PeerPort { get; } = peerPort;

    public ulong Key => Keys(LocalPort, PeerPort);

    public VsockConnectionState State { get; set; } = state;

    public VsockCredit Credit { get; } = new();

    /// <summary>The host socket reported readable and we have not yet read it dry.</summary>
    public bool HostReadable { get; set; }

    /// <summary>The host socket reached end of file; the guest was told with SHUTDOWN(SEND).</summary>
    public bool HostEof { get; set; }

    /// <summary>Shutdown flags the guest sent (§5.10.6.4), accumulated.</summary>
    public uint GuestShutdown { get; set; }

    /// <summary>Waiting in the device's round-robin list of connections with host data to send.</summary>
    public bool InReadyList { get; set; }

    /// <summary>The poll events the loop currently watches the socket for; 0 when not watched.</summary>
    public short WatchedEvents { get; set; }

    public bool Closed { get; set; }

    public int PendingCount => _pendingCount;

    /// <summary>Whether we should read the host socket: established, guest still receiving, host not at EOF, guest has room.</summary>
    public bool WantsHostData =>
        State == VsockConnectionState.Established && !HostEof && (GuestShutdown & VsockHeader.ShutdownReceive) == 0 && Credit.PeerFree > 0;

    /// <summary>Both directions are over: the guest shut down both, or it will not send and the host has nothing more.</summary>
    public bool IsFinished =>
        _pendingCount == 0 && (GuestShutdown == VsockHeader.ShutdownBoth || ((GuestShutdown & VsockHeader.ShutdownSend) != 0 && HostEof));

    public static ulong Keys(uint localPort, uint peerPort) => ((ulong)localPort << 32) | peerPort;

    /// <summary>Keeps guest bytes the host socket did not take; the credit check has bounded them by the buffer size.</summary>
    public void AppendPending(ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        _pending ??= new byte[VsockCredit.BufAlloc];
        if (_pendingStart + _pendingCount + data.Length > _pending.Length)
        {
            Buffer.BlockCopy(_pending, _pendingStart, _pending, 0, _pendingCount);
            _pendingStart = 0;
        }
        data.CopyTo(_pending.AsSpan(_pendingStart + _pendingCount));
        _pendingCount += data.Length;
    }

    public ReadOnlySpan<byte> Pending => _pending.AsSpan(_pendingStart, _pendingCount);

    public void ConsumePending(int count)
    {
        _pendingStart += count;
        _pendingCount -= count;
        if (_pendingCount == 0) _pendingStart = 0;
    }
}
