using System.Buffers.Binary;

namespace KvmSharp.Devices.Virtio.Net.Host;

/// <summary>
/// QEMU's stream netdev framing (net/stream.c, the "-netdev stream" that passt speaks on its Unix socket): each
/// Ethernet frame on the byte stream is preceded by its length as a 32-bit big-endian integer. Nothing else.
/// </summary>
public static class StreamFraming
{
    public const int LengthPrefix = 4;

    /// <summary>The shortest frame we accept: an Ethernet header (destination, source, type).</summary>
    public const int MinFrameLength = 14;

    /// <summary>The longest: what a virtio-net buffer holds (passt's own limit is 65520 bytes of MTU plus the header).</summary>
    public const int MaxFrameLength = NetFrame.MaxFrameLength;

    /// <summary>The frame length a prefix announces, or -1 when it is outside what an Ethernet frame can be.</summary>
    public static int ReadLength(ReadOnlySpan<byte> prefix)
    {
        uint length = BinaryPrimitives.ReadUInt32BigEndian(prefix);
        return length is >= MinFrameLength and <= MaxFrameLength ? (int)length : -1;
    }

    public static void WriteLength(Span<byte> prefix, int length) => BinaryPrimitives.WriteUInt32BigEndian(prefix, (uint)length);
}
