using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;
using static KvmSharp.Native.Libc.FsConstants;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>The calls that change the folder: each is refused with -EROFS on a read-only share, and works on checked names under directory nodes.</summary>
internal sealed partial class SharedDirectory
{
    /// <summary>
    /// Mode bits a guest may set: permissions and sticky; set-user-ID and set-group-ID only on directories (where
    /// they mean group inheritance), so the guest cannot leave a set-ID program in a host folder.
    /// </summary>
    private static uint SafeMode(uint mode, bool directory) => mode & (directory ? 0x7FFu /* 03777 */ : 0x3FFu /* 01777 */);

    /// <summary>The caller made a new entry: a host running as root gives it to the guest's caller, as a local file system would.</summary>
    private static unsafe void GiveToCaller(FsNode parent, EntryName name, uint uid, uint gid)
    {
        if (FsImports.GetEuid() != 0) return;
        fixed (byte* p = name.Terminated) FsImports.FChownAt(parent.Fd, p, uid, gid, AT_SYMLINK_NOFOLLOW);
    }

    private FsNode? WritableDirectory(ulong id, out int error)
    {
        if (ReadOnly) { error = -Errno.EROFS; return null; }
        return Directory(id, out error);
    }

    /// <summary>MKDIR.</summary>
    public unsafe int Mkdir(ulong parentId, EntryName name, uint mode, uint uid, uint gid, out FsNode? node, out HostStat stat)
    {
        node = null; stat = default;
        if (WritableDirectory(parentId, out int error) is not { } parent) return error;
        fixed (byte* p = name.Terminated)
            if (FsImports.MkdirAt(parent.Fd, p, SafeMode(mode, directory: true)) < 0) return -Marshal.GetLastPInvokeError();
        GiveToCaller(parent, name, uid, gid);
        return Lookup(parentId, name, out node, out stat);
    }

    /// <summary>MKNOD: regular files only (a guest has no business making device nodes or FIFOs on the host).</summary>
    public unsafe int Mknod(ulong parentId, EntryName name, uint mode, uint uid, uint gid, out FsNode? node, out HostStat stat)
    {
        node = null; stat = default;
        if (WritableDirectory(parentId, out int error) is not { } parent) return error;
        if ((mode & S_IFMT) != S_IFREG && (mode & S_IFMT) != 0) return -Errno.EPERM;
        fixed (byte* p = name.Terminated)
            if (FsImports.MknodAt(parent.Fd, p, S_IFREG | SafeMode(mode, directory: false), 0) < 0) return -Marshal.GetLastPInvokeError();
        GiveToCaller(parent, name, uid, gid);
        return Lookup(parentId, name, out node, out stat);
    }

    /// <summary>SYMLINK: the target is stored as the guest gave it; nothing on the host ever follows it.</summary>
    public unsafe int Symlink(ulong parentId, EntryName name, ReadOnlySpan<byte> target, uint uid, uint gid, out FsNode? node, out HostStat stat)
    {
        node = null; stat = default;
        if (WritableDirectory(parentId, out int error) is not { } parent) return error;
        if (target.IsEmpty || target.Length >= 4096 || target.IndexOf((byte)0) >= 0) return -Errno.EINVAL;
        var terminated = new byte[target.Length + 1];
        target.CopyTo(terminated);
        fixed (byte* t = terminated)
        fixed (byte* p = name.Terminated)
            if (FsImports.SymlinkAt(t, parent.Fd, p) < 0) return -Marshal.GetLastPInvokeError();
        GiveToCaller(parent, name, uid, gid);
        return Lookup(parentId, name, out node, out stat);
    }

    /// <summary>LINK: a new name for a node the guest holds (so a file already in the jail) in a directory node.</summary>
    public unsafe int Link(ulong oldId, ulong newParentId, EntryName name, out FsNode? node, out HostStat stat)
    {
        node = null; stat = default;
        if (WritableDirectory(newParentId, out int error) is not { } parent) return error;
        if (Node(oldId) is not { } old) return -Errno.ENOENT;
        if (old.Type == S_IFDIR) return -Errno.EPERM;
        // linkat(AT_EMPTY_PATH) needs CAP_DAC_READ_SEARCH; the /proc/self/fd entry with AT_SYMLINK_FOLLOW links the inode itself.
        using (old.Hold())
        fixed (byte* o = old.ProcName)
        fixed (byte* p = name.Terminated)
            if (FsImports.LinkAt(_procSelfFd, o, parent.Fd, p, AT_SYMLINK_FOLLOW) < 0) return -Marshal.GetLastPInvokeError();
        return Lookup(newParentId, name, out node, out stat);
    }

    /// <summary>UNLINK and RMDIR.</summary>
    public unsafe int Remove(ulong parentId, EntryName name, bool directory)
    {
        if (WritableDirectory(parentId, out int error) is not { } parent) return error;
        fixed (byte* p = name.Terminated) return Result(FsImports.UnlinkAt(parent.Fd, p, directory ? AT_REMOVEDIR : 0));
    }

    /// <summary>RENAME and RENAME2: both directories are nodes in the jail, both names single components; flags NOREPLACE and EXCHANGE only.</summary>
    public unsafe int Rename(ulong oldParentId, EntryName oldName, ulong newParentId, EntryName newName, uint flags)
    {
        if (WritableDirectory(oldParentId, out int error) is not { } oldParent) return error;
        if (Directory(newParentId, out error) is not { } newParent) return error;
        if ((flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) != 0 || flags == (RENAME_NOREPLACE | RENAME_EXCHANGE)) return -Errno.EINVAL;
        fixed (byte* o = oldName.Terminated)
        fixed (byte* n = newName.Terminated)
            return Result(FsImports.RenameAt2(oldParent.Fd, o, newParent.Fd, n, flags));
    }

    /// <summary>What SETATTR asks for (FATTR_* in <see cref="FuseSetAttrValid"/>).</summary>
    public readonly record struct AttrChange(uint Valid, ulong Handle, ulong Size, long Atime, uint AtimeNs, long Mtime, uint MtimeNs,
        uint Mode, uint Uid, uint Gid);

    /// <summary>SETATTR: mode, owner, size and times, in that order; the first failure is the answer.</summary>
    public unsafe int SetAttr(ulong id, in AttrChange change, out HostStat stat)
    {
        stat = default;
        if (Node(id) is not { } node) return -Errno.ENOENT;
        uint valid = change.Valid;
        const uint changing = FuseSetAttrValid.Mode | FuseSetAttrValid.Uid | FuseSetAttrValid.Gid | FuseSetAttrValid.Size
            | FuseSetAttrValid.Atime | FuseSetAttrValid.Mtime | FuseSetAttrValid.AtimeNow | FuseSetAttrValid.MtimeNow;
        if ((valid & changing) != 0 && ReadOnly) return -Errno.EROFS;
        byte empty = 0;
        if ((valid & FuseSetAttrValid.Mode) != 0)
        {
            if (node.Type == S_IFLNK) return -Errno.EOPNOTSUPP;
            using (node.Hold())
            fixed (byte* p = node.ProcName)
                if (FsImports.FChmodAt(_procSelfFd, p, SafeMode(change.Mode, node.Type == S_IFDIR), 0) < 0) return -Marshal.GetLastPInvokeError();
        }
        if ((valid & (FuseSetAttrValid.Uid | FuseSetAttrValid.Gid)) != 0)
        {
            uint uid = (valid & FuseSetAttrValid.Uid) != 0 ? change.Uid : uint.MaxValue;
            uint gid = (valid & FuseSetAttrValid.Gid) != 0 ? change.Gid : uint.MaxValue;
            if (FsImports.FChownAt(node.Fd, &empty, uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) < 0) return -Marshal.GetLastPInvokeError();
        }
        if ((valid & FuseSetAttrValid.Size) != 0)
        {
            if (change.Size > long.MaxValue) return -Errno.EINVAL;
            int error = Truncate(node, change, (long)change.Size);
            if (error != 0) return error;
        }
        if ((valid & (FuseSetAttrValid.Atime | FuseSetAttrValid.Mtime | FuseSetAttrValid.AtimeNow | FuseSetAttrValid.MtimeNow)) != 0)
        {
            TimeSpec* times = stackalloc TimeSpec[2];
            times[0] = Time(valid, FuseSetAttrValid.Atime, FuseSetAttrValid.AtimeNow, change.Atime, change.AtimeNs);
            times[1] = Time(valid, FuseSetAttrValid.Mtime, FuseSetAttrValid.MtimeNow, change.Mtime, change.MtimeNs);
            if (times[0].Nanoseconds is < 0 or >= 1_000_000_000 && times[0].Nanoseconds != UTIME_NOW && times[0].Nanoseconds != UTIME_OMIT) return -Errno.EINVAL;
            if (times[1].Nanoseconds is < 0 or >= 1_000_000_000 && times[1].Nanoseconds != UTIME_NOW && times[1].Nanoseconds != UTIME_OMIT) return -Errno.EINVAL;
            int r;
            if (node.Type == S_IFLNK) r = FsImports.UtimensAt(node.Fd, &empty, times, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
            else using (node.Hold()) fixed (byte* p = node.ProcName) r = FsImports.UtimensAt(_procSelfFd, p, times, 0);
            if (r < 0) return -Marshal.GetLastPInvokeError();
        }
        return StatNode(node.Fd, out stat);
    }

    private static TimeSpec Time(uint valid, uint set, uint now, long seconds, uint nanoseconds) =>
        (valid & now) != 0 ? new TimeSpec { Nanoseconds = UTIME_NOW }
        : (valid & set) != 0 ? new TimeSpec { Seconds = seconds, Nanoseconds = nanoseconds }
        : new TimeSpec { Nanoseconds = UTIME_OMIT };

    private int Truncate(FsNode node, in AttrChange change, long size)
    {
        if (node.Type == S_IFDIR) return -Errno.EISDIR;
        if (node.Type != S_IFREG) return -Errno.EINVAL;
        if ((change.Valid & FuseSetAttrValid.Fh) != 0 && _handles.TryGetValue(change.Handle, out var open) && open.NodeId == node.Id && !open.Directory)
            return Result(FsImports.FTruncate(open.Fd, size));
        int fd = Reopen(node, O_WRONLY);
        if (fd < 0) return fd;
        using var file = new FileDescriptor(fd);
        return Result(FsImports.FTruncate(file, size));
    }
}
