using System.Buffers.Binary;
using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;
using static KvmSharp.Native.Libc.FsConstants;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>Open files and directories: handles the guest names in READ, WRITE, READDIR, RELEASE and the like.</summary>
internal sealed partial class SharedDirectory
{
    private readonly Dictionary<ulong, OpenFile> _handles = [];
    private ulong _nextHandle = 1;

    /// <summary>Open flags a guest's OPEN or CREATE may pass on: access mode, append, truncate and the sync flags; the rest are ours to choose.</summary>
    private const int PassedOpenFlags = O_ACCMODE | O_APPEND | O_TRUNC | O_SYNC | O_DSYNC;

    public int HandleCount => _handles.Count;

    internal IEnumerable<(ulong Handle, OpenFile File)> Handles => _handles.Select(h => (h.Key, h.Value));

    private static bool Writes(int flags) => (flags & O_ACCMODE) != LibcConstants.O_RDONLY || (flags & O_TRUNC) != 0;

    private int AddHandle(int fd, ulong nodeId, bool directory, int flags, out ulong handle)
    {
        handle = 0;
        if (_handles.Count >= MaxHandles) { LibcImports.Close(fd); return -ENFILE; }
        handle = _nextHandle++;
        _handles[handle] = new OpenFile(new FileDescriptor(fd), nodeId, directory, flags);
        return 0;
    }

    private OpenFile? File(ulong handle, bool directory) =>
        _handles.TryGetValue(handle, out var open) && open.Directory == directory ? open : null;

    /// <summary>OPEN: a regular-file node, with the guest's access mode.</summary>
    public int Open(ulong id, uint guestFlags, out ulong handle)
    {
        handle = 0;
        if (Node(id) is not { } node) return -Errno.ENOENT;
        if (node.Type == S_IFDIR) return -Errno.EISDIR;
        int flags = (int)guestFlags & PassedOpenFlags;
        if ((flags & O_ACCMODE) == O_ACCMODE) return -Errno.EINVAL;
        if (ReadOnly && Writes(flags)) return -Errno.EROFS;
        int fd = Reopen(node, flags);
        return fd < 0 ? fd : AddHandle(fd, id, directory: false, flags, out handle);
    }

    /// <summary>OPENDIR.</summary>
    public int OpenDir(ulong id, out ulong handle)
    {
        handle = 0;
        if (Directory(id, out int error) is not { } node) return error;
        int fd = Reopen(node, LibcConstants.O_RDONLY | O_DIRECTORY);
        return fd < 0 ? fd : AddHandle(fd, id, directory: true, 0, out handle);
    }

    /// <summary>CREATE: a new regular file (or an existing one, unless O_EXCL) opened at once; never through a link.</summary>
    public unsafe int Create(ulong parentId, EntryName name, uint guestFlags, uint mode, uint uid, uint gid,
        out FsNode? node, out HostStat stat, out ulong handle)
    {
        node = null; stat = default; handle = 0;
        if (WritableDirectory(parentId, out int error) is not { } parent) return error;
        int flags = ((int)guestFlags & (PassedOpenFlags | O_EXCL)) | O_CREAT | O_NOFOLLOW | LibcConstants.O_CLOEXEC | LibcConstants.O_NOCTTY;
        if ((flags & O_ACCMODE) == O_ACCMODE) return -Errno.EINVAL;
        int fd = OpenBeneath(parent, name, flags, SafeMode(mode, directory: false));
        if (fd < 0) return fd;
        var file = new FileDescriptor(fd);
        // The node is the inode just opened (not whatever the name means a moment later): an O_PATH reopen of it.
        var probe = new FsNode(0, file, 0, 0, S_IFREG);
        int pathFd;
        using (probe.Hold())
            fixed (byte* p = probe.ProcName) pathFd = FsImports.OpenAt(_procSelfFd, p, O_PATH | LibcConstants.O_CLOEXEC, 0);
        if (pathFd < 0) { error = -Marshal.GetLastPInvokeError(); file.Dispose(); return error; }
        GiveToCaller(parent, name, uid, gid);
        error = Adopt(new FileDescriptor(pathFd), out node, out stat);
        if (error != 0) { file.Dispose(); return error; }
        if (_handles.Count >= MaxHandles) { Forget(node!.Id, 1); file.Dispose(); return -ENFILE; }
        handle = _nextHandle++;
        _handles[handle] = new OpenFile(file, node!.Id, false, flags & PassedOpenFlags);
        return 0;
    }

    /// <summary>RELEASE and RELEASEDIR: closes the handle (an unknown one is -EBADF, and nothing else changes).</summary>
    public int Release(ulong handle, bool directory)
    {
        if (File(handle, directory) is not { } open) return -Errno.EBADF;
        _handles.Remove(handle);
        open.Fd.Dispose();
        return 0;
    }

    /// <summary>READ into one guest buffer piece; bytes read (0 at the end) or -errno.</summary>
    public unsafe int Read(ulong handle, long offset, Span<byte> destination)
    {
        if (File(handle, directory: false) is not { } open) return -Errno.EBADF;
        if (offset < 0) return -Errno.EINVAL;
        nint n;
        fixed (byte* d = destination) n = FsImports.PRead(open.Fd, d, (nuint)destination.Length, offset);
        return n < 0 ? -Marshal.GetLastPInvokeError() : (int)n;
    }

    /// <summary>WRITE from one guest buffer piece; bytes written or -errno.</summary>
    public unsafe int Write(ulong handle, long offset, ReadOnlySpan<byte> source)
    {
        if (ReadOnly) return -Errno.EROFS;
        if (File(handle, directory: false) is not { } open) return -Errno.EBADF;
        if (offset < 0) return -Errno.EINVAL;
        nint n;
        fixed (byte* s = source) n = FsImports.PWrite(open.Fd, s, (nuint)source.Length, offset);
        return n < 0 ? -Marshal.GetLastPInvokeError() : (int)n;
    }

    /// <summary>FSYNC and FSYNCDIR (datasync: bit 0 of fsync_flags).</summary>
    public int Fsync(ulong handle, bool directory, bool dataOnly)
    {
        if (File(handle, directory) is not { } open) return -Errno.EBADF;
        return Result(dataOnly ? FsImports.FDataSync(open.Fd) : FsImports.FSync(open.Fd));
    }

    /// <summary>FLUSH (close(2) of one of the guest's descriptors): nothing is buffered here, so only the handle is checked.</summary>
    public int Flush(ulong handle) => File(handle, directory: false) is null ? -Errno.EBADF : 0;

    /// <summary>LSEEK: SEEK_DATA/SEEK_HOLE answers (SET/CUR/END are the guest's own business, but answered too).</summary>
    public int Lseek(ulong handle, long offset, int whence, out long result)
    {
        result = 0;
        if (File(handle, directory: false) is not { } open) return -Errno.EBADF;
        if (whence is < SEEK_SET or > SEEK_HOLE) return -Errno.EINVAL;
        result = FsImports.LSeek(open.Fd, offset, whence);
        return result < 0 ? -Marshal.GetLastPInvokeError() : 0;
    }

    /// <summary>FALLOCATE: modes KEEP_SIZE, PUNCH_HOLE (with KEEP_SIZE) and ZERO_RANGE.</summary>
    public int Fallocate(ulong handle, int mode, long offset, long length)
    {
        if (ReadOnly) return -Errno.EROFS;
        if (File(handle, directory: false) is not { } open) return -Errno.EBADF;
        if ((mode & ~(FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE | FALLOC_FL_ZERO_RANGE)) != 0) return -Errno.EOPNOTSUPP;
        if (offset < 0 || length <= 0) return -Errno.EINVAL;
        return Result(FsImports.FAllocate(open.Fd, mode, offset, length));
    }

    /// <summary>One entry of a directory, as getdents64 gives it: the offset is the cookie of the entry after it.</summary>
    public readonly ref struct DirEntry(ulong inode, long nextOffset, byte type, ReadOnlySpan<byte> name)
    {
        public ulong Inode { get; } = inode;
        public long NextOffset { get; } = nextOffset;
        public byte Type { get; } = type;
        public ReadOnlySpan<byte> Name { get; } = name;
    }

    /// <summary>Takes one entry; returns false to stop (the reply is full): the entry is then not counted as given.</summary>
    public delegate bool DirEntrySink(in DirEntry entry);

    /// <summary>
    /// READDIR and READDIRPLUS: entries of an open directory from the cookie <paramref name="offset"/> (0: the start)
    /// until <paramref name="sink"/> says the reply is full or the directory ends.
    /// </summary>
    public unsafe int ReadDir(ulong handle, long offset, DirEntrySink sink)
    {
        if (File(handle, directory: true) is not { } open) return -Errno.EBADF;
        if (offset < 0) return -Errno.EINVAL;
        if (FsImports.LSeek(open.Fd, offset, SEEK_SET) < 0) return -Marshal.GetLastPInvokeError();
        var buffer = new byte[32 * 1024];
        while (true)
        {
            nint n;
            fixed (byte* b = buffer) n = FsImports.GetDents64(open.Fd, b, (nuint)buffer.Length);
            if (n < 0) return -Marshal.GetLastPInvokeError();
            if (n == 0) return 0;
            // struct linux_dirent64: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name (NUL-terminated).
            for (int at = 0; at < n;)
            {
                var record = buffer.AsSpan(at, (int)n - at);
                ushort length = BinaryPrimitives.ReadUInt16LittleEndian(record[16..]);
                if (length < 20 || length > record.Length) return -Errno.EIO;
                var nameBytes = record[19..length];
                int end = nameBytes.IndexOf((byte)0);
                var entry = new DirEntry(BinaryPrimitives.ReadUInt64LittleEndian(record), BinaryPrimitives.ReadInt64LittleEndian(record[8..]),
                    record[18], end < 0 ? nameBytes : nameBytes[..end]);
                if (!sink(entry)) return 0;
                at += length;
            }
        }
    }

    /// <summary>READDIRPLUS's lookup of one entry by the name the host itself returned (still checked: "." and ".." get no node).</summary>
    public int LookupEntry(ulong directoryId, ReadOnlySpan<byte> name, out FsNode? node, out HostStat stat)
    {
        node = null; stat = default;
        int error = EntryName.TryCreate(name, out var checkedName);
        return error != 0 ? error : Lookup(directoryId, checkedName!, out node, out stat);
    }

    private void CloseAllHandles()
    {
        foreach (var open in _handles.Values) open.Fd.Dispose();
        _handles.Clear();
    }

    /// <summary>DESTROY: the guest unmounted; every handle and node but the root goes.</summary>
    public void ForgetAll()
    {
        CloseAllHandles();
        foreach (var node in _nodes.Values.Where(n => n.Id != RootId).ToList())
        {
            _nodes.Remove(node.Id);
            _byInode.Remove((node.Device, node.Inode));
            node.Fd.Dispose();
        }
    }
}

/// <summary>One open handle: a real (not O_PATH) descriptor on a node's inode.</summary>
internal sealed record OpenFile(FileDescriptor Fd, ulong NodeId, bool Directory, int Flags);
