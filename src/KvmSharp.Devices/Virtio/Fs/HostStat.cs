using System.Buffers.Binary;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>What fstatat(2) says about one host inode, read out of x86-64's struct stat.</summary>
internal readonly record struct HostStat(
    ulong Device, ulong Inode, ulong Links, uint Mode, uint Uid, uint Gid, ulong RawDevice, long Size, long BlockSize,
    long Blocks, long Atime, long AtimeNs, long Mtime, long MtimeNs, long Ctime, long CtimeNs)
{
    public uint Type => Mode & FsConstants.S_IFMT;
    public bool IsDirectory => Type == FsConstants.S_IFDIR;
    public bool IsRegular => Type == FsConstants.S_IFREG;
    public bool IsSymlink => Type == FsConstants.S_IFLNK;

    /// <summary>Reads the 144-byte struct stat (glibc x86-64 layout).</summary>
    public static HostStat Parse(ReadOnlySpan<byte> s) => new(
        Device: BinaryPrimitives.ReadUInt64LittleEndian(s),
        Inode: BinaryPrimitives.ReadUInt64LittleEndian(s[8..]),
        Links: BinaryPrimitives.ReadUInt64LittleEndian(s[16..]),
        Mode: BinaryPrimitives.ReadUInt32LittleEndian(s[24..]),
        Uid: BinaryPrimitives.ReadUInt32LittleEndian(s[28..]),
        Gid: BinaryPrimitives.ReadUInt32LittleEndian(s[32..]),
        RawDevice: BinaryPrimitives.ReadUInt64LittleEndian(s[40..]),
        Size: BinaryPrimitives.ReadInt64LittleEndian(s[48..]),
        BlockSize: BinaryPrimitives.ReadInt64LittleEndian(s[56..]),
        Blocks: BinaryPrimitives.ReadInt64LittleEndian(s[64..]),
        Atime: BinaryPrimitives.ReadInt64LittleEndian(s[72..]),
        AtimeNs: BinaryPrimitives.ReadInt64LittleEndian(s[80..]),
        Mtime: BinaryPrimitives.ReadInt64LittleEndian(s[88..]),
        MtimeNs: BinaryPrimitives.ReadInt64LittleEndian(s[96..]),
        Ctime: BinaryPrimitives.ReadInt64LittleEndian(s[104..]),
        CtimeNs: BinaryPrimitives.ReadInt64LittleEndian(s[112..]));
}

/// <summary>What fstatfs(2) says, as much of struct statfs as FUSE's fuse_kstatfs carries.</summary>
internal readonly record struct HostStatFs(ulong Blocks, ulong FreeBlocks, ulong AvailableBlocks, ulong Files, ulong FreeFiles,
    long BlockSize, long NameLength, long FragmentSize)
{
    public static HostStatFs Parse(ReadOnlySpan<byte> s) => new(
        Blocks: BinaryPrimitives.ReadUInt64LittleEndian(s[16..]),
        FreeBlocks: BinaryPrimitives.ReadUInt64LittleEndian(s[24..]),
        AvailableBlocks: BinaryPrimitives.ReadUInt64LittleEndian(s[32..]),
        Files: BinaryPrimitives.ReadUInt64LittleEndian(s[40..]),
        FreeFiles: BinaryPrimitives.ReadUInt64LittleEndian(s[48..]),
        BlockSize: BinaryPrimitives.ReadInt64LittleEndian(s[8..]),
        NameLength: BinaryPrimitives.ReadInt64LittleEndian(s[64..]),
        FragmentSize: BinaryPrimitives.ReadInt64LittleEndian(s[72..]));
}
