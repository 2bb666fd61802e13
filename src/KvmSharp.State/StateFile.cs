using System.Buffers.Binary;
using System.Security.Cryptography;

namespace KvmSharp.State;

/// <summary>
/// The envelope of a saved machine state: a fixed header that says what the bytes are and proves they are
/// whole, then the payload. Layout (little-endian):
/// <code>
///   0  8  magic "KVMSHARP"
///   8  4  kind (1 = machine state)
///  12  4  format version
///  16  8  payload length
///  24 32  SHA-256 of the payload
///  56  …  payload
/// </code>
/// A file that is truncated, longer than it says, of another kind or version, or whose checksum does not
/// match is refused with one line (<see cref="StateException"/>) before any of it is interpreted.
/// </summary>
public static class StateFile
{
    public const int HeaderSize = 56;
    public const uint MachineStateKind = 1;

    /// <summary>The largest payload accepted: far above any real device state, far below a memory file.</summary>
    public const long MaxPayload = 256L << 20;

    private static ReadOnlySpan<byte> Magic => "KVMSHARP"u8;

    /// <summary>The envelope for <paramref name="payload"/>: header followed by the payload.</summary>
    public static byte[] Wrap(ReadOnlySpan<byte> payload, uint kind, uint version)
    {
        var bytes = new byte[HeaderSize + payload.Length];
        Magic.CopyTo(bytes);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(8), kind);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(12), version);
        BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(16), payload.Length);
        SHA256.HashData(payload, bytes.AsSpan(24, 32));
        payload.CopyTo(bytes.AsSpan(HeaderSize));
        return bytes;
    }

    /// <summary>Checks an envelope and returns its payload; <paramref name="what"/> names the source in errors.</summary>
    public static ReadOnlyMemory<byte> Unwrap(ReadOnlyMemory<byte> envelope, uint kind, uint version, string what)
    {
        var bytes = envelope.Span;
        if (bytes.Length < HeaderSize || !bytes[..8].SequenceEqual(Magic))
            throw new StateException($"{what} is not a KvmSharp state file (no KVMSHARP header)");
        uint actualKind = BinaryPrimitives.ReadUInt32LittleEndian(bytes[8..]);
        if (actualKind != kind)
            throw new StateException($"{what} holds state of kind {actualKind}, expected {kind}");
        uint actualVersion = BinaryPrimitives.ReadUInt32LittleEndian(bytes[12..]);
        if (actualVersion != version)
            throw new StateException($"{what} has state format version {actualVersion}; this KvmSharp reads version {version}");
        long length = BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]);
        if (length < 0 || length > MaxPayload || length != bytes.Length - HeaderSize)
            throw new StateException($"{what} is truncated or has trailing bytes: the header says {length} bytes of state, the file has {bytes.Length - HeaderSize}");
        var payload = envelope[HeaderSize..];
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(payload.Span, hash);
        if (!hash.SequenceEqual(bytes.Slice(24, 32)))
            throw new StateException($"{what} is corrupt: its checksum does not match its contents");
        return payload;
    }

    /// <summary>Writes an envelope to <paramref name="path"/> atomically: a temporary file, fsync, rename, fsync of the folder.</summary>
    public static void Write(string path, ReadOnlySpan<byte> payload, uint kind, uint version) =>
        AtomicFile.WriteAllBytes(path, Wrap(payload, kind, version));

    /// <summary>Reads and checks the envelope at <paramref name="path"/>; a missing or unreadable file is a <see cref="StateException"/> too.</summary>
    public static ReadOnlyMemory<byte> Read(string path, uint kind, uint version)
    {
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            if (stream.Length > MaxPayload + HeaderSize)
                throw new StateException($"state file '{path}' is {stream.Length} bytes, more than any state this KvmSharp writes");
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new StateException($"cannot read state file '{path}': {e.Message}");
        }
        return Unwrap(bytes, kind, version, $"state file '{path}'");
    }
}
