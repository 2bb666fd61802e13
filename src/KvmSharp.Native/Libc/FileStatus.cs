using System.Buffers.Binary;

namespace KvmSharp.Native.Libc;

/// <summary>
/// What lstat(2) says of a path without following a symlink: its type and the bytes its blocks occupy. x86-64's
/// struct stat (144 bytes): st_mode le32 at 24, st_size le64 at 48, st_blocks le64 at 64 (512-byte units).
/// </summary>
public readonly record struct FileStatus(uint Mode, long Size, long Blocks)
{
    private const uint FileTypeMask = 0xF000, RegularBits = 0x8000, DirectoryBits = 0x4000, SymlinkBits = 0xA000;

    public bool IsRegularFile => (Mode & FileTypeMask) == RegularBits;
    public bool IsDirectory => (Mode & FileTypeMask) == DirectoryBits;
    public bool IsSymlink => (Mode & FileTypeMask) == SymlinkBits;

    /// <summary>st_blocks × 512: what the file takes on disk (a sparse file's holes take nothing).</summary>
    public long AllocatedBytes => Blocks * 512;

    /// <summary>The status of <paramref name="path"/>, or null when nothing is there (or it cannot be looked at).</summary>
    public static unsafe FileStatus? Of(string path)
    {
        byte* stat = stackalloc byte[256];   // 144 bytes used; room to spare
        if (LibcImports.LStat(path, stat) != 0) return null;
        var bytes = new ReadOnlySpan<byte>(stat, 144);
        return new FileStatus(BinaryPrimitives.ReadUInt32LittleEndian(bytes[24..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[48..]),
                              BinaryPrimitives.ReadInt64LittleEndian(bytes[64..]));
    }
}
