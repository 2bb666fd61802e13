using System.Buffers.Binary;
using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>
/// Who owns a file and its permission bits, as stat(2) says (following symlinks, as chown(2) does: a disk named by a
/// link is the file it names). x86-64's struct stat: st_mode le32 at 24, st_uid at 28, st_gid at 32.
/// </summary>
public readonly partial record struct FileOwnership(uint Uid, uint Gid, uint Mode)
{
    public bool IsDirectory => (Mode & 0xF000) == 0x4000;

    /// <summary>The ownership of <paramref name="path"/>, or null when nothing is there (or it cannot be looked at).</summary>
    public static unsafe FileOwnership? Of(string path)
    {
        byte* stat = stackalloc byte[256];   // 144 bytes used; room to spare
        if (Stat(path, stat) != 0) return null;
        var bytes = new ReadOnlySpan<byte>(stat, 144);
        return new FileOwnership(BinaryPrimitives.ReadUInt32LittleEndian(bytes[28..]), BinaryPrimitives.ReadUInt32LittleEndian(bytes[32..]),
                                 BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..]));
    }

    /// <summary>chown(2) of what <paramref name="path"/> names (a symlink followed).</summary>
    /// <exception cref="IOException">The call failed (errno in the message).</exception>
    public static void Set(string path, uint uid, uint gid)
    {
        if (Chown(path, uid, gid) != 0)
            throw new IOException($"chown {path} failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
    }

    /// <summary>
    /// Whether a process running as <paramref name="uid"/> with groups <paramref name="gids"/> has all of
    /// <paramref name="want"/> (r=4, w=2, x=1) on this file by its mode bits alone (POSIX.1-2017 §4.5: the owner class
    /// if it owns it, else the group class if in its group, else others). ACLs are not read: a false here may be
    /// granted by one, and the caller then adds its own entry, which costs nothing.
    /// </summary>
    public bool Allows(uint uid, IReadOnlyCollection<uint> gids, uint want)
    {
        uint bits = uid == Uid ? (Mode >> 6) & 7 : gids.Contains(Gid) ? (Mode >> 3) & 7 : Mode & 7;
        return (bits & want) == want;
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static unsafe partial int Stat(string path, byte* statBuffer);

    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Chown(string path, uint owner, uint group);
}
