namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>
/// FUSE request opcodes (the kernel's include/uapi/linux/fuse.h, enum fuse_opcode). Requests we do not name here are
/// answered -ENOSYS, which the guest kernel remembers and stops sending.
/// </summary>
internal static class FuseOpcode
{
    public const uint Lookup = 1, Forget = 2, GetAttr = 3, SetAttr = 4, ReadLink = 5, Symlink = 6, Mknod = 8, Mkdir = 9,
        Unlink = 10, Rmdir = 11, Rename = 12, Link = 13, Open = 14, Read = 15, Write = 16, StatFs = 17, Release = 18,
        Fsync = 20, SetXattr = 21, GetXattr = 22, ListXattr = 23, RemoveXattr = 24, Flush = 25, Init = 26, OpenDir = 27,
        ReadDir = 28, ReleaseDir = 29, FsyncDir = 30, Access = 34, Create = 35, Interrupt = 36, Destroy = 38,
        BatchForget = 42, Fallocate = 43, ReadDirPlus = 44, Rename2 = 45, Lseek = 46;
}

/// <summary>Sizes of the fixed structs of the FUSE wire format (fuse.h, protocol 7.31 layouts; all little-endian on x86).</summary>
internal static class FuseSizes
{
    /// <summary>fuse_in_header: len, opcode, unique, nodeid, uid, gid, pid, total_extlen/padding.</summary>
    public const int InHeader = 40;
    /// <summary>fuse_out_header: len, error, unique.</summary>
    public const int OutHeader = 16;
    /// <summary>fuse_attr: ino … flags.</summary>
    public const int Attr = 88;
    /// <summary>fuse_entry_out: nodeid, generation, entry_valid, attr_valid, their nsecs, fuse_attr.</summary>
    public const int EntryOut = 40 + Attr;
    /// <summary>fuse_attr_out: attr_valid, attr_valid_nsec, dummy, fuse_attr.</summary>
    public const int AttrOut = 16 + Attr;
    public const int OpenOut = 16;
    /// <summary>fuse_init_in before 7.36 (major, minor, max_readahead, flags); the kernel may send 64.</summary>
    public const int InitIn = 16;
    public const int InitOut = 64;
    public const int SetAttrIn = 88;
    public const int ReadIn = 40, WriteIn = 40, WriteOut = 8;
    public const int ReleaseIn = 24, FlushIn = 24, FsyncIn = 16, OpenIn = 8, GetAttrIn = 16;
    public const int CreateIn = 16, MknodIn = 16, MkdirIn = 8, RenameIn = 8, Rename2In = 16, LinkIn = 8;
    public const int StatFsOut = 80, AccessIn = 8, LseekIn = 24, LseekOut = 8, FallocateIn = 32;
    public const int ForgetIn = 8, BatchForgetIn = 8, ForgetOne = 16;
    /// <summary>fuse_dirent up to the name (ino, off, namelen, type).</summary>
    public const int DirentHeader = 24;
}

/// <summary>The protocol version we speak and the INIT flags we accept (fuse.h's FUSE_* init flags).</summary>
internal static class FuseInit
{
    public const uint Major = 7;
    /// <summary>7.31: every struct we parse has its present layout; newer kernels talk down to it.</summary>
    public const uint Minor = 31;

    public const uint AsyncRead = 1 << 0, AtomicOTrunc = 1 << 3, BigWrites = 1 << 5, DoReaddirplus = 1 << 13,
        ReaddirplusAuto = 1 << 14, ParallelDirops = 1 << 18, MaxPages = 1 << 22;

    /// <summary>What we honour: reads in parallel are fine, O_TRUNC at open, big writes, READDIRPLUS, max_pages.</summary>
    public const uint Offered = AsyncRead | AtomicOTrunc | BigWrites | DoReaddirplus | ReaddirplusAuto | ParallelDirops | MaxPages;

    /// <summary>Pages per request: 1 MiB reads and writes, as virtiofsd's default.</summary>
    public const ushort MaxPagesPerRequest = 256;
    public const uint MaxWrite = MaxPagesPerRequest * 4096u;
    public const uint MaxReadahead = 128 * 1024;
}

/// <summary>SETATTR's valid bits (fuse.h FATTR_*).</summary>
internal static class FuseSetAttrValid
{
    public const uint Mode = 1, Uid = 2, Gid = 4, Size = 8, Atime = 16, Mtime = 32, Fh = 64, AtimeNow = 128, MtimeNow = 256,
        LockOwner = 512, Ctime = 1024, KillSuidGid = 2048;
}

/// <summary>Linux errno values the server answers with (as negative numbers in fuse_out_header.error).</summary>
internal static class Errno
{
    public const int EPERM = 1, ENOENT = 2, EIO = 5, ENXIO = 6, EBADF = 9, EACCES = 13, EEXIST = 17, EXDEV = 18,
        ENOTDIR = 20, EISDIR = 21, EINVAL = 22, ENOSPC = 28, EROFS = 30, ERANGE = 34, ENAMETOOLONG = 36, ENOSYS = 38,
        ENOTEMPTY = 39, ELOOP = 40, ENODATA = 61, EOPNOTSUPP = 95, EPROTO = 71, EOVERFLOW = 75;
}
