using System.Buffers.Binary;

namespace KvmSharp.Native.Libc;

/// <summary>What kind of file a path names, without following a symlink (lstat(2)'s S_IFMT bits).</summary>
public static class UnixFileType
{
    private const uint FileTypeMask = 0xF000, SocketBits = 0xC000;

    /// <summary>True when <paramref name="path"/> is a Unix socket.</summary>
    public static bool IsSocket(string path) => TypeBits(path) == SocketBits;

    /// <summary>True when something (of any kind) is at <paramref name="path"/>.</summary>
    public static bool Exists(string path) => TypeBits(path) is not null;

    private static unsafe uint? TypeBits(string path)
    {
        byte* stat = stackalloc byte[256];   // struct stat is 144 bytes on x86-64 (st_mode: le32 at offset 24); room to spare
        if (LibcImports.LStat(path, stat) != 0) return null;
        return BinaryPrimitives.ReadUInt32LittleEndian(new ReadOnlySpan<byte>(stat + 24, 4)) & FileTypeMask;
    }
}
