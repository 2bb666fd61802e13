using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Manager.Rpc.Xdr;

/// <summary>
/// Decodes XDR (RFC 4506) as rpcgen lays it out: every item a multiple of 4 bytes, big-endian. The input is
/// hostile: every length and count is checked against both its declared maximum and the bytes that remain, and
/// anything short or malformed throws <see cref="XdrException"/>, never reads past the span.
/// </summary>
public ref struct XdrReader(ReadOnlySpan<byte> data)
{
    private readonly ReadOnlySpan<byte> _data = data;
    private int _position;

    public readonly int Position => _position;
    public readonly int Remaining => _data.Length - _position;

    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4, "int"));
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4, "unsigned int"));
    public long ReadInt64() => BinaryPrimitives.ReadInt64BigEndian(Take(8, "hyper"));
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8, "unsigned hyper"));

    /// <summary>RFC 4506 §4.4: a bool is an enum of exactly 0 or 1.</summary>
    public bool ReadBool()
    {
        int at = _position;
        return ReadInt32() switch
        {
            0 => false,
            1 => true,
            int other => throw new XdrException($"bool at offset {at} is {other}, not 0 or 1"),
        };
    }

    /// <summary>A variable-length array's count (<c>T x&lt;max&gt;</c>); each element needs at least <paramref name="minElementBytes"/> bytes.</summary>
    public int ReadCount(int max, int minElementBytes = 4)
    {
        int at = _position;
        uint count = ReadUInt32();
        if (count > (uint)max) throw new XdrException($"array count {count} at offset {at} is over its maximum {max}");
        if (minElementBytes > 0 && count > (ulong)Remaining / (ulong)minElementBytes)
            throw new XdrException($"array count {count} at offset {at} needs more than the {Remaining} bytes left");
        return (int)count;
    }

    /// <summary><c>string&lt;max&gt;</c> (remote_nonnull_string): a length, the bytes, zero padding to 4.</summary>
    public string ReadString(int max = XdrLimits.StringMax) => Encoding.UTF8.GetString(ReadOpaque(max, "string"));

    /// <summary><c>remote_string</c>: an optional pointer to a string (0 none, 1 present).</summary>
    public string? ReadOptionalString(int max = XdrLimits.StringMax) => ReadPresent() ? ReadString(max) : null;

    /// <summary>The discriminant of an optional pointer (<c>T *</c>).</summary>
    public bool ReadPresent()
    {
        int at = _position;
        return ReadInt32() switch
        {
            0 => false,
            1 => true,
            int other => throw new XdrException($"optional-data flag at offset {at} is {other}, not 0 or 1"),
        };
    }

    /// <summary><c>opaque uuid[16]</c> (remote_uuid): RFC 4122 byte order, which is Guid's big-endian form.</summary>
    public Guid ReadUuid() => new(Take(16, "uuid"), bigEndian: true);

    /// <summary><c>opaque x&lt;max&gt;</c>: a length, the bytes, zero padding to 4. The span points into the input.</summary>
    public ReadOnlySpan<byte> ReadOpaque(int max) => ReadOpaque(max, "opaque");

    /// <summary><c>opaque x[length]</c>: exactly <paramref name="length"/> bytes and padding, no length word.</summary>
    public ReadOnlySpan<byte> ReadFixedOpaque(int length)
    {
        ReadOnlySpan<byte> bytes = Take(length, "fixed opaque");
        Take(Padding(length), "fixed opaque padding");
        return bytes;
    }

    /// <summary>Every byte was consumed: a payload longer than its type is as malformed as a short one.</summary>
    public readonly void EnsureEnd()
    {
        if (Remaining != 0) throw new XdrException($"{Remaining} unexpected bytes after the payload at offset {_position}");
    }

    internal static int Padding(int length) => (4 - (length & 3)) & 3;

    private ReadOnlySpan<byte> ReadOpaque(int max, string what)
    {
        int at = _position;
        uint length = ReadUInt32();
        if (length > (uint)max) throw new XdrException($"{what} length {length} at offset {at} is over its maximum {max}");
        ReadOnlySpan<byte> bytes = Take((int)length, what);
        Take(Padding((int)length), $"{what} padding");
        return bytes;
    }

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count < 0 || count > Remaining)
            throw new XdrException($"{what} at offset {_position} needs {count} bytes, {Remaining} left");
        ReadOnlySpan<byte> bytes = _data.Slice(_position, count);
        _position += count;
        return bytes;
    }
}
