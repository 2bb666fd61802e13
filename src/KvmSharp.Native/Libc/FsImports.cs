using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>
/// The *at(2) file-system calls the virtio-fs server makes, each relative to a directory descriptor it holds, so no
/// host path is ever built from a guest's name. Descriptors are passed as SafeHandles: the marshaller holds a
/// reference for the call (a node forgotten meanwhile closes after it), and passes the number as a register-wide
/// value, which a C int parameter reads the low half of (x86-64 SysV ABI). Errors come back as -1 with errno in
/// <see cref="Marshal.GetLastPInvokeError"/>, as in <see cref="LibcImports"/>.
/// </summary>
public static unsafe partial class FsImports
{
    private const string Lib = "libc";

    /// <summary>openat2(2) has no glibc 2.36 wrapper: syscall 437 on x86-64.</summary>
    private const long SysOpenat2 = 437;

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial long Syscall4(long number, SafeHandle a1, byte* a2, OpenHow* a3, nuint a4);

    /// <summary>openat2(2) with <paramref name="how"/>; returns the new fd or -1.</summary>
    public static int OpenAt2(SafeHandle dirFd, byte* path, OpenHow* how) => (int)Syscall4(SysOpenat2, dirFd, path, how, (nuint)sizeof(OpenHow));

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true)]
    public static partial int OpenAt(SafeHandle dirFd, byte* path, int flags, uint mode);

    /// <summary>openat(2) relative to the working directory (<see cref="FsConstants.AT_FDCWD"/>), the one descriptor no handle owns.</summary>
    public static int OpenAtWorkingDirectory(byte* path, int flags, uint mode) => OpenAtNumber(FsConstants.AT_FDCWD, path, flags, mode);

    [LibraryImport(Lib, EntryPoint = "openat", SetLastError = true)]
    private static partial int OpenAtNumber(int dirFd, byte* path, int flags, uint mode);

    [LibraryImport(Lib, EntryPoint = "fstatat", SetLastError = true)]
    public static partial int FStatAt(SafeHandle dirFd, byte* path, byte* statBuffer, int flags);

    [LibraryImport(Lib, EntryPoint = "fstatfs", SetLastError = true)]
    public static partial int FStatFs(SafeHandle fd, byte* statfsBuffer);

    [LibraryImport(Lib, EntryPoint = "mkdirat", SetLastError = true)]
    public static partial int MkdirAt(SafeHandle dirFd, byte* path, uint mode);

    [LibraryImport(Lib, EntryPoint = "mknodat", SetLastError = true)]
    public static partial int MknodAt(SafeHandle dirFd, byte* path, uint mode, ulong device);

    [LibraryImport(Lib, EntryPoint = "unlinkat", SetLastError = true)]
    public static partial int UnlinkAt(SafeHandle dirFd, byte* path, int flags);

    [LibraryImport(Lib, EntryPoint = "renameat2", SetLastError = true)]
    public static partial int RenameAt2(SafeHandle oldDirFd, byte* oldPath, SafeHandle newDirFd, byte* newPath, uint flags);

    [LibraryImport(Lib, EntryPoint = "linkat", SetLastError = true)]
    public static partial int LinkAt(SafeHandle oldDirFd, byte* oldPath, SafeHandle newDirFd, byte* newPath, int flags);

    [LibraryImport(Lib, EntryPoint = "symlinkat", SetLastError = true)]
    public static partial int SymlinkAt(byte* target, SafeHandle newDirFd, byte* linkPath);

    [LibraryImport(Lib, EntryPoint = "readlinkat", SetLastError = true)]
    public static partial nint ReadlinkAt(SafeHandle dirFd, byte* path, byte* buffer, nuint size);

    [LibraryImport(Lib, EntryPoint = "fchmodat", SetLastError = true)]
    public static partial int FChmodAt(SafeHandle dirFd, byte* path, uint mode, int flags);

    [LibraryImport(Lib, EntryPoint = "fchownat", SetLastError = true)]
    public static partial int FChownAt(SafeHandle dirFd, byte* path, uint owner, uint group, int flags);

    [LibraryImport(Lib, EntryPoint = "utimensat", SetLastError = true)]
    public static partial int UtimensAt(SafeHandle dirFd, byte* path, TimeSpec* times, int flags);

    [LibraryImport(Lib, EntryPoint = "faccessat", SetLastError = true)]
    public static partial int FAccessAt(SafeHandle dirFd, byte* path, int mode, int flags);

    [LibraryImport(Lib, EntryPoint = "ftruncate", SetLastError = true)]
    public static partial int FTruncate(SafeHandle fd, long length);

    [LibraryImport(Lib, EntryPoint = "fallocate", SetLastError = true)]
    public static partial int FAllocate(SafeHandle fd, int mode, long offset, long length);

    [LibraryImport(Lib, EntryPoint = "lseek", SetLastError = true)]
    public static partial long LSeek(SafeHandle fd, long offset, int whence);

    [LibraryImport(Lib, EntryPoint = "pread", SetLastError = true)]
    public static partial nint PRead(SafeHandle fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "pwrite", SetLastError = true)]
    public static partial nint PWrite(SafeHandle fd, byte* buffer, nuint count, long offset);

    [LibraryImport(Lib, EntryPoint = "fsync", SetLastError = true)]
    public static partial int FSync(SafeHandle fd);

    [LibraryImport(Lib, EntryPoint = "fdatasync", SetLastError = true)]
    public static partial int FDataSync(SafeHandle fd);

    [LibraryImport(Lib, EntryPoint = "getdents64", SetLastError = true)]
    public static partial nint GetDents64(SafeHandle fd, byte* buffer, nuint count);

    [LibraryImport(Lib, EntryPoint = "geteuid")]
    public static partial uint GetEuid();
}

/// <summary>struct open_how (openat2(2)).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct OpenHow
{
    public ulong Flags;
    public ulong Mode;
    public ulong Resolve;
}

/// <summary>Flags and numbers of the calls in <see cref="FsImports"/> (x86-64 Linux values).</summary>
public static class FsConstants
{
    public const int O_WRONLY = 1, O_ACCMODE = 3, O_CREAT = 0x40, O_EXCL = 0x80, O_TRUNC = 0x200, O_APPEND = 0x400,
        O_DIRECTORY = 0x10000, O_NOFOLLOW = 0x20000, O_PATH = 0x200000, O_NOATIME = 0x40000, O_DSYNC = 0x1000, O_SYNC = 0x101000;
    public const int AT_FDCWD = -100, AT_SYMLINK_NOFOLLOW = 0x100, AT_REMOVEDIR = 0x200, AT_SYMLINK_FOLLOW = 0x400, AT_EACCESS = 0x200,
        AT_EMPTY_PATH = 0x1000;
    /// <summary>openat2 resolve flags.</summary>
    public const ulong RESOLVE_NO_XDEV = 1, RESOLVE_NO_MAGICLINKS = 2, RESOLVE_NO_SYMLINKS = 4, RESOLVE_BENEATH = 8;
    public const uint RENAME_NOREPLACE = 1, RENAME_EXCHANGE = 2, RENAME_WHITEOUT = 4;
    public const int SEEK_SET = 0, SEEK_CUR = 1, SEEK_END = 2, SEEK_DATA = 3, SEEK_HOLE = 4;
    public const int FALLOC_FL_KEEP_SIZE = 1, FALLOC_FL_PUNCH_HOLE = 2, FALLOC_FL_ZERO_RANGE = 0x10;
    public const uint S_IFMT = 0xF000, S_IFDIR = 0x4000, S_IFREG = 0x8000, S_IFLNK = 0xA000, S_ISUID = 0x800, S_ISGID = 0x400;
    public const long UTIME_NOW = (1L << 30) - 1, UTIME_OMIT = (1L << 30) - 2;
    /// <summary>sizeof(struct stat) and sizeof(struct statfs) on x86-64.</summary>
    public const int StatSize = 144, StatFsSize = 120;
}
