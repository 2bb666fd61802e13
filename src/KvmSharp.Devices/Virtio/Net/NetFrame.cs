namespace KvmSharp.Devices.Virtio.Net;

/// <summary>Sizes of what crosses a virtio-net queue: the header and the largest frame (virtio 1.2 §5.1.6).</summary>
internal static class NetFrame
{
    /// <summary>struct virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers (VERSION_1 always has num_buffers).</summary>
    public const int HeaderLength = 12;

    /// <summary>Offset of le16 num_buffers in the header.</summary>
    public const int NumBuffersOffset = 10;

    /// <summary>The largest frame: a 64 KiB GSO packet (GSO_MAX_SIZE) plus an Ethernet header with a VLAN tag.</summary>
    public const int MaxFrameLength = 64 * 1024 + 18;

    /// <summary>One header and the largest frame: the size of the tx and rx buffers, and the longest tx chain taken.</summary>
    public const int BufferLength = HeaderLength + MaxFrameLength;
}
