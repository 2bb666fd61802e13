using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Block;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>
/// One FUSE request as virtio-fs carries it (virtio 1.2 §5.11.6): the device-readable stream holds fuse_in_header
/// and the request's arguments (for WRITE, then the data), the device-writable stream takes fuse_out_header and the
/// reply. Fields are read once into <see cref="Body"/>; lengths are checked against the streams before any use.
/// </summary>
internal sealed class FuseMessage
{
    /// <summary>Most argument bytes we copy for a request that is not a WRITE: two names and a struct fit with room to spare.</summary>
    public const int MaxBody = 8192;

    private readonly byte[] _body = new byte[MaxBody];
    private readonly byte[] _header = new byte[FuseSizes.InHeader];

    public RequestBuffers Buffers { get; private set; } = null!;
    public uint Length { get; private set; }
    public uint Opcode { get; private set; }
    public ulong Unique { get; private set; }
    public ulong NodeId { get; private set; }
    public uint Uid { get; private set; }
    public uint Gid { get; private set; }

    /// <summary>The arguments copied (at most <see cref="MaxBody"/> bytes; a WRITE's data stays in guest memory).</summary>
    public ReadOnlySpan<byte> Body => _body.AsSpan(0, BodyCopied);
    public int BodyCopied { get; private set; }

    /// <summary>Bytes of arguments the header says there are (may be more than <see cref="BodyCopied"/> only for WRITE).</summary>
    public uint BodyLength => Length - FuseSizes.InHeader;

    /// <summary>Room for the reply after fuse_out_header.</summary>
    public ulong ReplyRoom => Buffers.WritableLength - FuseSizes.OutHeader;

    /// <summary>
    /// Reads the header and copies the arguments; false for a request that cannot be parsed (header short, len past
    /// the readable bytes, arguments longer than we take for that opcode): the caller answers -EINVAL if it can.
    /// </summary>
    public bool TryParse(RequestBuffers buffers)
    {
        Buffers = buffers;
        Length = 0; Opcode = 0; Unique = 0; NodeId = 0; BodyCopied = 0;
        if (buffers.Overflowed || buffers.ReadableLength < FuseSizes.InHeader || !buffers.TryRead(0, _header)) return false;
        var h = _header.AsSpan();
        Length = BinaryPrimitives.ReadUInt32LittleEndian(h);
        Opcode = BinaryPrimitives.ReadUInt32LittleEndian(h[4..]);
        Unique = BinaryPrimitives.ReadUInt64LittleEndian(h[8..]);
        NodeId = BinaryPrimitives.ReadUInt64LittleEndian(h[16..]);
        Uid = BinaryPrimitives.ReadUInt32LittleEndian(h[24..]);
        Gid = BinaryPrimitives.ReadUInt32LittleEndian(h[28..]);
        if (Length < FuseSizes.InHeader || Length > buffers.ReadableLength) return false;
        uint take = Opcode == FuseOpcode.Write ? Math.Min(BodyLength, (uint)FuseSizes.WriteIn) : BodyLength;
        if (take > MaxBody) return false;
        if (!buffers.TryRead(FuseSizes.InHeader, _body.AsSpan(0, (int)take))) return false;
        BodyCopied = (int)take;
        return true;
    }

    /// <summary>Can the writable stream hold a header and <paramref name="payload"/> bytes?</summary>
    public bool Fits(int payload) => Buffers.WritableLength >= (ulong)(FuseSizes.OutHeader + payload);

    /// <summary>Writes fuse_out_header (len, error, unique) at the start of the writable stream; false when it has no room.</summary>
    public bool TryWriteHeader(uint length, int error)
    {
        Span<byte> header = stackalloc byte[FuseSizes.OutHeader];
        BinaryPrimitives.WriteUInt32LittleEndian(header, length);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], error);
        BinaryPrimitives.WriteUInt64LittleEndian(header[8..], Unique);
        return Buffers.TryWrite(0, header);
    }

    /// <summary>Takes a NUL-terminated name starting at <paramref name="at"/> of the body; moves past its NUL. -EINVAL when no NUL ends it.</summary>
    public int TakeName(ref int at, out EntryName? name)
    {
        name = null;
        var rest = Body[Math.Min(at, BodyCopied)..];
        int end = rest.IndexOf((byte)0);
        if (end < 0) return -Errno.EINVAL;
        at += end + 1;
        return EntryName.TryCreate(rest[..end], out name);
    }

    /// <summary>Takes the NUL-terminated bytes at <paramref name="at"/> (a link target: any bytes but NUL).</summary>
    public int TakeText(ref int at, out ReadOnlySpan<byte> text)
    {
        text = default;
        var rest = Body[Math.Min(at, BodyCopied)..];
        int end = rest.IndexOf((byte)0);
        if (end < 0) return -Errno.EINVAL;
        at += end + 1;
        text = rest[..end];
        return 0;
    }
}
