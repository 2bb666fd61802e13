namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>
/// One directory entry's name as the guest sent it, checked to be a single path component: 1 to 255 bytes
/// (NAME_MAX), no '/', no NUL, not "." or "..". Kept as bytes with a NUL after them, ready for the *at(2) calls;
/// never decoded, so a name in any encoding reaches the host unchanged and nothing is ever split on it.
/// </summary>
internal sealed class EntryName
{
    public const int MaxLength = 255;

    private EntryName(byte[] terminated) => Terminated = terminated;

    /// <summary>The name followed by one NUL byte.</summary>
    public byte[] Terminated { get; }

    public ReadOnlySpan<byte> Bytes => Terminated.AsSpan(0, Terminated.Length - 1);

    /// <summary>
    /// Checks <paramref name="raw"/> (the bytes before the name's NUL) and returns 0 with the name, or a negative errno:
    /// -ENAMETOOLONG past 255 bytes, -EINVAL for an empty name, one with '/' or NUL, or "." and "..".
    /// </summary>
    public static int TryCreate(ReadOnlySpan<byte> raw, out EntryName? name)
    {
        name = null;
        if (raw.Length > MaxLength) return -Errno.ENAMETOOLONG;
        if (raw.IsEmpty || raw.IndexOfAny((byte)'/', (byte)0) >= 0) return -Errno.EINVAL;
        if (raw is [(byte)'.'] or [(byte)'.', (byte)'.']) return -Errno.EINVAL;
        var terminated = new byte[raw.Length + 1];
        raw.CopyTo(terminated);
        name = new EntryName(terminated);
        return 0;
    }
}
