namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>
/// virtio-vsock's own saved state: only the guest CID. Connections are host sockets and cannot move with a
/// snapshot; a restored device tells the guest so with VIRTIO_VSOCK_EVENT_TRANSPORT_RESET.
/// </summary>
public sealed record VirtioVsockState
{
    public ulong GuestCid { get; init; }
}
