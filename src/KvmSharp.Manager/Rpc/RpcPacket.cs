using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// Framing (docs/kbase/internals/rpc.rst, "Packet framing"): a u32 length that counts itself, the header, the
/// payload. The 9.0 client refuses packets over 32 MiB ("packet … too large, want 33554432"), and so do we.
/// </summary>
public static class RpcPacket
{
    public const int MaxLength = 32 * 1024 * 1024;

    /// <summary>The largest payload a packet carries.</summary>
    public const int MaxPayload = MaxLength - RpcHeader.SizeWithLength;

    /// <summary>Reads one packet; null at a clean end of file before its first byte.</summary>
    /// <exception cref="RpcFramingException">A length out of bounds, or the stream ends inside the packet.</exception>
    public static (RpcHeader Header, byte[] Payload)? Read(Stream stream)
    {
        Span<byte> lengthWord = stackalloc byte[4];
        int got = ReadFully(stream, lengthWord);
        if (got == 0) return null;
        if (got < 4) throw new RpcFramingException($"connection closed inside a packet's length word ({got} of 4 bytes)");
        uint length = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(lengthWord);
        if (length < RpcHeader.SizeWithLength || length > MaxLength)
            throw new RpcFramingException($"packet length {length} is outside {RpcHeader.SizeWithLength}..{MaxLength}");

        var rest = new byte[length - 4];
        got = ReadFully(stream, rest);
        if (got < rest.Length) throw new RpcFramingException($"connection closed inside a packet ({got + 4} of {length} bytes)");
        var reader = new XdrReader(rest);
        RpcHeader header = RpcHeader.Decode(ref reader);
        return (header, rest[(RpcHeader.SizeWithLength - 4)..]);
    }

    /// <summary>A whole packet: length word, header, then what <paramref name="payload"/> writes.</summary>
    public static byte[] Build(RpcHeader header, Action<XdrWriter>? payload = null)
    {
        var writer = new XdrWriter();
        writer.WriteUInt32(0);
        header.Encode(writer);
        payload?.Invoke(writer);
        if (writer.Length > MaxLength) throw new XdrException($"packet of {writer.Length} bytes is over the {MaxLength}-byte limit");
        writer.PatchUInt32(0, (uint)writer.Length);
        return writer.ToArray();
    }

    /// <summary>A packet whose payload is <paramref name="payload"/> as it is (stream data, an encoded reply).</summary>
    public static byte[] Build(RpcHeader header, ReadOnlySpan<byte> payload)
    {
        if (payload.Length > MaxPayload) throw new XdrException($"payload of {payload.Length} bytes is over the {MaxPayload}-byte limit");
        var packet = new byte[RpcHeader.SizeWithLength + payload.Length];
        var writer = new XdrWriter(RpcHeader.SizeWithLength);
        writer.WriteUInt32((uint)packet.Length);
        header.Encode(writer);
        writer.WrittenSpan.CopyTo(packet);
        payload.CopyTo(packet.AsSpan(RpcHeader.SizeWithLength));
        return packet;
    }

    private static int ReadFully(Stream stream, Span<byte> buffer)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int n = stream.Read(buffer[total..]);
            if (n == 0) break;
            total += n;
        }
        return total;
    }
}
