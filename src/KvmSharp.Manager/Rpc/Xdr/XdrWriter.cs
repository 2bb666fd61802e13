using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Manager.Rpc.Xdr;

/// <summary>
/// Encodes XDR (RFC 4506) into a growing buffer. Writing data over a protocol maximum throws
/// <see cref="XdrException"/>: the peer would refuse the whole packet, so the caller answers with an error instead.
/// </summary>
public sealed class XdrWriter(int capacity = 256)
{
    private byte[] _buffer = new byte[Math.Max(capacity, 16)];

    public int Length { get; private set; }

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, Length);

    public byte[] ToArray() => WrittenSpan.ToArray();

    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32BigEndian(Grow(4), value);
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);
    public void WriteInt64(long value) => BinaryPrimitives.WriteInt64BigEndian(Grow(8), value);
    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64BigEndian(Grow(8), value);
    public void WriteBool(bool value) => WriteInt32(value ? 1 : 0);

    /// <summary>A variable-length array's count, refused over <paramref name="max"/>.</summary>
    public void WriteCount(int count, int max)
    {
        if (count < 0 || count > max) throw new XdrException($"array of {count} elements is over its maximum {max}");
        WriteInt32(count);
    }

    public void WriteString(string value, int max = XdrLimits.StringMax)
    {
        int length = Encoding.UTF8.GetByteCount(value);
        if (length > max) throw new XdrException($"string of {length} bytes is over its maximum {max}");
        WriteInt32(length);
        Encoding.UTF8.GetBytes(value, Grow(length));
        Grow(XdrReader.Padding(length)).Clear();
    }

    /// <summary><c>remote_string</c>: 0 for null, else 1 and the string.</summary>
    public void WriteOptionalString(string? value, int max = XdrLimits.StringMax)
    {
        WritePresent(value is not null);
        if (value is not null) WriteString(value, max);
    }

    /// <summary>The discriminant of an optional pointer (<c>T *</c>).</summary>
    public void WritePresent(bool present) => WriteInt32(present ? 1 : 0);

    public void WriteUuid(Guid value)
    {
        if (!value.TryWriteBytes(Grow(16), bigEndian: true, out _)) throw new InvalidOperationException("a Guid is 16 bytes");
    }

    public void WriteOpaque(ReadOnlySpan<byte> bytes, int max)
    {
        if (bytes.Length > max) throw new XdrException($"opaque of {bytes.Length} bytes is over its maximum {max}");
        WriteInt32(bytes.Length);
        WriteFixedOpaque(bytes);
    }

    /// <summary><c>opaque x[n]</c>: the bytes and padding, no length word.</summary>
    public void WriteFixedOpaque(ReadOnlySpan<byte> bytes)
    {
        bytes.CopyTo(Grow(bytes.Length));
        Grow(XdrReader.Padding(bytes.Length)).Clear();
    }

    /// <summary>Raw bytes as they are (a stream packet's payload is not XDR).</summary>
    public void WriteRaw(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Grow(bytes.Length));

    /// <summary>Overwrites a word already written (a packet's length, known only at the end).</summary>
    public void PatchUInt32(int offset, uint value)
    {
        if (offset < 0 || offset > Length - 4) throw new ArgumentOutOfRangeException(nameof(offset));
        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(offset, 4), value);
    }

    private Span<byte> Grow(int count)
    {
        if (_buffer.Length - Length < count)
        {
            long wanted = Math.Max((long)_buffer.Length * 2, (long)Length + count);
            Array.Resize(ref _buffer, (int)Math.Min(wanted, Array.MaxLength));
            if (_buffer.Length - Length < count) throw new XdrException($"message of over {Length} bytes is too large");
        }
        Span<byte> span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }
}
