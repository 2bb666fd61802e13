using KvmSharp.Native.Net;

namespace KvmSharp.Devices.Virtio.Net;

/// <summary>virtio-net's feature bits (virtio 1.2 §5.1.3) as masks, and the tap offloads they stand for.</summary>
public static class NetFeatures
{
    /// <summary>VIRTIO_NET_F_CSUM (0): the device takes frames with partial checksums (the guest's tx offload).</summary>
    public const ulong Csum = 1UL << 0;
    /// <summary>VIRTIO_NET_F_GUEST_CSUM (1): the driver takes frames with partial checksums.</summary>
    public const ulong GuestCsum = 1UL << 1;
    /// <summary>VIRTIO_NET_F_MAC (5): the device has a MAC address in its configuration.</summary>
    public const ulong Mac = 1UL << 5;
    public const ulong GuestTso4 = 1UL << 7, GuestTso6 = 1UL << 8, GuestEcn = 1UL << 9;
    public const ulong HostTso4 = 1UL << 11, HostTso6 = 1UL << 12, HostEcn = 1UL << 13;
    /// <summary>VIRTIO_NET_F_MRG_RXBUF (15): a received frame may span several rx chains (num_buffers, §5.1.6.4).</summary>
    public const ulong MergeableRxBuffers = 1UL << 15;
    /// <summary>VIRTIO_NET_F_STATUS (16): the configuration has a link status.</summary>
    public const ulong Status = 1UL << 16;

    /// <summary>The checksum and TSO offloads, offered together when the tap accepts all of them (their dependencies, §5.1.3.1, hold).</summary>
    public const ulong Offloads = Csum | GuestCsum | GuestTso4 | GuestTso6 | GuestEcn | HostTso4 | HostTso6 | HostEcn;

    /// <summary>
    /// The TUNSETOFFLOAD bits for the negotiated receive offloads (§5.1.6.4.1): the tap may hand us what the
    /// driver said it can take, nothing more. The transmit offloads (CSUM, HOST_*) need no setting: a tap with
    /// a vnet header always takes partial checksums and GSO frames written to it.
    /// </summary>
    public static uint ToTunOffloads(ulong negotiated)
    {
        uint flags = 0;
        if ((negotiated & GuestCsum) == 0) return 0;   // TSO without checksum offload is no offload (§5.1.3.1)
        flags |= TunConstants.TUN_F_CSUM;
        if ((negotiated & GuestTso4) != 0) flags |= TunConstants.TUN_F_TSO4;
        if ((negotiated & GuestTso6) != 0) flags |= TunConstants.TUN_F_TSO6;
        if ((negotiated & GuestEcn) != 0) flags |= TunConstants.TUN_F_TSO_ECN;
        return flags;
    }
}
