using System.Buffers.Binary;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>Test frames and headers, built from the layouts in virtio 1.2 §5.1.6 and IEEE 802.3.</summary>
internal static class NetFrames
{
    /// <summary>A virtio_net_hdr_v1: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset, num_buffers (all le).</summary>
    public static byte[] Header(byte flags = 0, ushort csumStart = 0, ushort csumOffset = 0, ushort numBuffers = 0)
    {
        var h = new byte[12];
        h[0] = flags;
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(6), csumStart);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(8), csumOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(h.AsSpan(10), numBuffers);
        return h;
    }

    /// <summary>A broadcast Ethernet frame from <paramref name="source"/> with EtherType 0x88B5 (IEEE local experimental) and a counting payload.</summary>
    public static byte[] Ethernet(int length, byte[] source, byte seed = 0)
    {
        var f = new byte[length];
        f.AsSpan(0, 6).Fill(0xFF);
        source.CopyTo(f, 6);
        f[12] = 0x88;
        f[13] = 0xB5;
        for (int i = 14; i < length; i++) f[i] = (byte)(seed + i);
        return f;
    }

    public static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
