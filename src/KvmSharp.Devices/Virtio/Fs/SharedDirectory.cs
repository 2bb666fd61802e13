using System.Runtime.InteropServices;
using System.Text;
using KvmSharp.Native.Libc;
using static KvmSharp.Native.Libc.FsConstants;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>
/// The host folder a virtio-fs device shares, seen as FUSE sees a file system: inodes named by node ids the guest
/// looked up, and open files named by handles. This is the jail.
/// <list type="bullet">
/// <item>Every node is an O_PATH descriptor (a <see cref="FileDescriptor"/>) on one host inode, got by looking one
/// checked name (<see cref="EntryName"/>: no '/', not "." or "..") up in a directory node with openat2(2) and
/// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS. No host path is ever made from guest bytes, and
/// the only way up is a node the guest already holds, all of them at or below the root.</item>
/// <item>Symbolic links are never followed on the host: lookups return the link itself (O_PATH | O_NOFOLLOW), a link
/// node cannot be opened, and a link's target is only text for the guest to read (READLINK), which its own kernel
/// resolves against its own mount. So a link to /etc, relative or absolute, made by the host or by the guest,
/// leads nowhere on the host.</item>
/// <item>A node is reopened for I/O through /proc/self/fd/N (the inode itself, not a path), and only when it is a
/// regular file or directory: a FIFO or device node the host put in the folder cannot block or reach a device.</item>
/// <item>Read-only: every call that would change the folder answers -EROFS.</item>
/// </list>
/// Every method returns 0 (or a count) on success and a negative errno on failure; guest input never throws.
/// Not thread-safe: the device's one loop thread calls it.
/// </summary>
internal sealed partial class SharedDirectory : IDisposable
{
    public const ulong RootId = 1;

    /// <summary>Caps on host descriptors a guest can make us hold (each node and each open handle is one).</summary>
    public const int MaxNodes = 1 << 16, MaxHandles = 1 << 14;

    private const int ENFILE = 23;

    private readonly Dictionary<ulong, FsNode> _nodes = [];
    private readonly Dictionary<(ulong Device, ulong Inode), FsNode> _byInode = [];
    private readonly FileDescriptor _procSelfFd;
    private ulong _nextNodeId = RootId + 1;

    /// <summary>Opens <paramref name="path"/> (an absolute host directory, the user's own choice) as the root. Throws IOException with one line when it cannot.</summary>
    public SharedDirectory(string path, bool readOnly)
    {
        RootPath = Path.GetFullPath(path);
        ReadOnly = readOnly;
        var root = OpenRaw(RootPath, O_PATH | O_DIRECTORY | LibcConstants.O_CLOEXEC, $"cannot open the shared folder '{RootPath}'");
        _procSelfFd = OpenRaw("/proc/self/fd", O_PATH | O_DIRECTORY | LibcConstants.O_CLOEXEC, "cannot open /proc/self/fd (is /proc mounted?)");
        int error = StatNode(root, out var stat);
        if (error != 0) throw new IOException($"cannot stat the shared folder '{RootPath}': {Marshal.GetPInvokeErrorMessage(-error)}");
        var node = new FsNode(RootId, root, stat.Device, stat.Inode, stat.Type) { Lookups = 1 };
        _nodes[RootId] = node;
        _byInode[(stat.Device, stat.Inode)] = node;
    }

    public string RootPath { get; }
    public bool ReadOnly { get; }
    public int NodeCount => _nodes.Count;

    private static unsafe FileDescriptor OpenRaw(string path, int flags, string what)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = bytes) fd = FsImports.OpenAtWorkingDirectory(p, flags, 0);
        if (fd < 0) throw new IOException($"{what}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        return new FileDescriptor(fd);
    }

    /// <summary>A call's result as 0 or -errno.</summary>
    private static int Result(long value) => value < 0 ? -Marshal.GetLastPInvokeError() : 0;

    public bool TryGetNode(ulong id, out FsNode node) => _nodes.TryGetValue(id, out node!);

    /// <summary>The node for a guest's node id, or null (-ENOENT for the caller: a stale or invented id).</summary>
    private FsNode? Node(ulong id) => id != 0 && _nodes.TryGetValue(id, out var node) ? node : null;

    private FsNode? Directory(ulong id, out int error)
    {
        var node = Node(id);
        error = node is null ? -Errno.ENOENT : node.Type != S_IFDIR ? -Errno.ENOTDIR : 0;
        return error == 0 ? node : null;
    }

    public static unsafe int StatNode(FileDescriptor fd, out HostStat stat)
    {
        byte* buffer = stackalloc byte[StatSize];
        byte empty = 0;
        int r = FsImports.FStatAt(fd, &empty, buffer, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
        stat = r < 0 ? default : HostStat.Parse(new ReadOnlySpan<byte>(buffer, StatSize));
        return Result(r);
    }

    /// <summary>GETATTR.</summary>
    public int GetAttr(ulong id, out HostStat stat)
    {
        stat = default;
        return Node(id) is { } node ? StatNode(node.Fd, out stat) : -Errno.ENOENT;
    }

    /// <summary>
    /// LOOKUP: <paramref name="name"/> in directory <paramref name="parentId"/>; on success the node's lookup count
    /// grows by one (the guest's FORGET gives it back). The same host inode is always the same node.
    /// </summary>
    public int Lookup(ulong parentId, EntryName name, out FsNode? node, out HostStat stat)
    {
        node = null;
        stat = default;
        var parent = Directory(parentId, out int error);
        if (parent is null) return error;
        int fd = OpenBeneath(parent, name, O_PATH | O_NOFOLLOW | LibcConstants.O_CLOEXEC, 0);
        if (fd < 0) return fd;
        return Adopt(new FileDescriptor(fd), out node, out stat);
    }

    /// <summary>openat2 of one checked name under a directory node, never through a symlink or out of the directory; fd or -errno.</summary>
    private static unsafe int OpenBeneath(FsNode parent, EntryName name, int flags, uint mode)
    {
        var how = new OpenHow
        {
            Flags = (ulong)(uint)flags,
            Mode = (flags & O_CREAT) != 0 ? mode : 0,
            Resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        int fd;
        fixed (byte* p = name.Terminated) fd = FsImports.OpenAt2(parent.Fd, p, &how);
        return fd < 0 ? -Marshal.GetLastPInvokeError() : fd;
    }

    /// <summary>Makes <paramref name="fd"/> (an O_PATH descriptor just opened) a node, or counts one more lookup of the node it already is.</summary>
    private int Adopt(FileDescriptor fd, out FsNode? node, out HostStat stat)
    {
        node = null;
        int error = StatNode(fd, out stat);
        if (error != 0) { fd.Dispose(); return error; }
        if (_byInode.TryGetValue((stat.Device, stat.Inode), out var known))
        {
            fd.Dispose();
            known.Lookups++;
            node = known;
            return 0;
        }
        if (_nodes.Count >= MaxNodes) { fd.Dispose(); return -ENFILE; }
        node = new FsNode(_nextNodeId++, fd, stat.Device, stat.Inode, stat.Type) { Lookups = 1 };
        _nodes[node.Id] = node;
        _byInode[(stat.Device, stat.Inode)] = node;
        return 0;
    }

    /// <summary>FORGET: the guest drops <paramref name="count"/> lookups of a node; at zero the node and its descriptor go. The root stays.</summary>
    public void Forget(ulong id, ulong count)
    {
        if (id == RootId || Node(id) is not { } node) return;
        node.Lookups = count >= node.Lookups ? 0 : node.Lookups - count;
        if (node.Lookups > 0) return;
        _nodes.Remove(id);
        _byInode.Remove((node.Device, node.Inode));
        node.Fd.Dispose();
    }

    /// <summary>READLINK: the link's target as bytes (text for the guest; never resolved here).</summary>
    public unsafe int ReadLink(ulong id, out byte[] target)
    {
        target = [];
        if (Node(id) is not { } node) return -Errno.ENOENT;
        if (node.Type != S_IFLNK) return -Errno.EINVAL;
        var buffer = new byte[4096];
        byte empty = 0;
        nint n;
        fixed (byte* b = buffer) n = FsImports.ReadlinkAt(node.Fd, &empty, b, (nuint)buffer.Length);
        if (n < 0) return -Marshal.GetLastPInvokeError();
        target = buffer.AsSpan(0, (int)n).ToArray();
        return 0;
    }

    /// <summary>STATFS of the file system the node is on.</summary>
    public unsafe int StatFs(ulong id, out HostStatFs statfs)
    {
        statfs = default;
        var node = Node(id) ?? _nodes[RootId];
        byte* buffer = stackalloc byte[StatFsSize];
        int r = FsImports.FStatFs(node.Fd, buffer);
        if (r < 0) return -Marshal.GetLastPInvokeError();
        statfs = HostStatFs.Parse(new ReadOnlySpan<byte>(buffer, StatFsSize));
        return 0;
    }

    /// <summary>ACCESS: faccessat on the inode (through /proc/self/fd, as the node may be any type but a link).</summary>
    public unsafe int Access(ulong id, int mask)
    {
        if (Node(id) is not { } node) return -Errno.ENOENT;
        if ((mask & ~7) != 0) return -Errno.EINVAL;
        if (ReadOnly && (mask & 2) != 0) return -Errno.EROFS;
        if (node.Type == S_IFLNK) return 0;   // links have no permissions of their own
        using var held = node.Hold();
        fixed (byte* p = node.ProcName) return Result(FsImports.FAccessAt(_procSelfFd, p, mask, 0));
    }

    /// <summary>
    /// Reopens a node's inode with real access (O_PATH descriptors cannot read or write) through its /proc/self/fd
    /// entry: regular files and directories only, never a link (which would be followed) or a FIFO or device.
    /// </summary>
    private unsafe int Reopen(FsNode node, int flags)
    {
        if (node.Type != S_IFREG && node.Type != S_IFDIR) return node.Type == S_IFLNK ? -Errno.ELOOP : -Errno.ENXIO;
        int fd;
        using (node.Hold())
            fixed (byte* p = node.ProcName) fd = FsImports.OpenAt(_procSelfFd, p, flags | LibcConstants.O_CLOEXEC | LibcConstants.O_NOCTTY, 0);
        return fd < 0 ? -Marshal.GetLastPInvokeError() : fd;
    }

    /// <summary>The node's path below the root ("" for the root), for saving state; null when it has none (deleted, or moved out by the host).</summary>
    public string? RelativePath(FsNode node)
    {
        string link;
        using var held = node.Hold();
        try { link = System.IO.Directory.ResolveLinkTarget($"/proc/self/fd/{held.Number}", returnFinalTarget: false)?.FullName ?? ""; }
        catch (IOException) { return null; }
        if (link.EndsWith(" (deleted)", StringComparison.Ordinal)) return null;
        if (link == RootPath) return "";
        string prefix = RootPath.EndsWith('/') ? RootPath : RootPath + "/";
        return link.StartsWith(prefix, StringComparison.Ordinal) ? link[prefix.Length..] : null;
    }

    public void Dispose()
    {
        CloseAllHandles();
        foreach (var node in _nodes.Values) node.Fd.Dispose();
        _nodes.Clear();
        _byInode.Clear();
        _procSelfFd.Dispose();
    }
}

/// <summary>One inode the guest holds: its O_PATH descriptor and how many lookups the guest has not yet forgotten.</summary>
internal sealed class FsNode(ulong id, FileDescriptor fd, ulong device, ulong inode, uint type)
{
    public ulong Id { get; } = id;
    public FileDescriptor Fd { get; } = fd;
    public ulong Device { get; } = device;
    public ulong Inode { get; } = inode;
    /// <summary>S_IFMT bits: an inode's type never changes.</summary>
    public uint Type { get; } = type;
    public ulong Lookups { get; set; }
    /// <summary>The descriptor's number as a NUL-terminated name in /proc/self/fd: it names this node only under <see cref="Hold"/>.</summary>
    public byte[] ProcName { get; } = ProcNameOf(fd);

    /// <summary>
    /// A lease on the node's descriptor for a call that names it by number (/proc/self/fd/N), so that the number cannot
    /// come to mean another file during the call. Nodes are forgotten only on the device's loop thread, the one caller.
    /// </summary>
    public HandleLease Hold() => new(Fd);

    private static byte[] ProcNameOf(FileDescriptor fd)
    {
        using var lease = new HandleLease(fd);
        return Encoding.ASCII.GetBytes($"{lease.Number}\0");
    }
}
