using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Block;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>
/// Our FUSE file server (the protocol of the kernel's include/uapi/linux/fuse.h), answering requests against a
/// <see cref="SharedDirectory"/>. Every field comes from the guest and is checked before use: a request too short
/// for its opcode, a name that is not one path component, an unknown node id or handle, a negative offset all get a
/// negative errno in fuse_out_header; an opcode we do not serve gets -ENOSYS. Nothing a guest sends throws.
/// </summary>
internal sealed partial class FuseServer(SharedDirectory directory)
{
    /// <summary>Seconds the guest may cache entries and attributes (virtiofsd's cache=auto uses 1 s too).</summary>
    private const ulong CacheSeconds = 1;

    private readonly SharedDirectory _dir = directory;
    private readonly FuseMessage _message = new();
    private readonly byte[] _reply = new byte[64 * 1024];

    /// <summary>INIT was answered (a request before it is -EIO); cleared by DESTROY and by a device reset.</summary>
    public bool Initialized { get; set; }

    /// <summary>The minor version agreed at INIT.</summary>
    public uint Minor { get; set; }

    public SharedDirectory Directory => _dir;

    /// <summary>
    /// Serves the chain in <paramref name="buffers"/> (loaded) and returns the bytes written to its writable buffers:
    /// 0 for FORGET and BATCH_FORGET, which have no reply, and for a request too broken to answer.
    /// </summary>
    public uint Handle(RequestBuffers buffers)
    {
        var m = _message;
        if (!m.TryParse(buffers)) return m.Length >= FuseSizes.InHeader || buffers.ReadableLength >= FuseSizes.InHeader ? Error(-Errno.EINVAL) : 0;
        if (m.Opcode is FuseOpcode.Forget or FuseOpcode.BatchForget)
        {
            if (Initialized) Forget();
            return 0;
        }
        if (m.Opcode != FuseOpcode.Init && !Initialized) return Error(-Errno.EIO);
        return m.Opcode switch
        {
            FuseOpcode.Init => Init(),
            FuseOpcode.Destroy => Destroy(),
            FuseOpcode.Lookup => Lookup(),
            FuseOpcode.GetAttr => GetAttr(),
            FuseOpcode.SetAttr => SetAttr(),
            FuseOpcode.ReadLink => ReadLink(),
            FuseOpcode.Symlink => Symlink(),
            FuseOpcode.Mknod => Mknod(),
            FuseOpcode.Mkdir => Mkdir(),
            FuseOpcode.Unlink => Remove(directory: false),
            FuseOpcode.Rmdir => Remove(directory: true),
            FuseOpcode.Rename => Rename(two: false),
            FuseOpcode.Rename2 => Rename(two: true),
            FuseOpcode.Link => Link(),
            FuseOpcode.Open => Open(),
            FuseOpcode.Read => Read(),
            FuseOpcode.Write => Write(),
            FuseOpcode.StatFs => StatFs(),
            FuseOpcode.Release => Release(directory: false),
            FuseOpcode.ReleaseDir => Release(directory: true),
            FuseOpcode.Fsync => Fsync(directory: false),
            FuseOpcode.FsyncDir => Fsync(directory: true),
            FuseOpcode.Flush => Flush(),
            FuseOpcode.OpenDir => OpenDir(),
            FuseOpcode.ReadDir => ReadDir(plus: false),
            FuseOpcode.ReadDirPlus => ReadDir(plus: true),
            FuseOpcode.Access => Access(),
            FuseOpcode.Create => Create(),
            FuseOpcode.Lseek => Lseek(),
            FuseOpcode.Fallocate => Fallocate(),
            // No extended attributes: -ENOSYS makes the kernel stop asking (and answer EOPNOTSUPP itself).
            _ => Error(-Errno.ENOSYS),
        };
    }

    // ---- replies ----

    /// <summary>An error reply to the request last parsed (the device's answer when serving it failed unexpectedly).</summary>
    public uint ErrorReply(int error) => _message.Buffers is null ? 0 : Error(error);

    /// <summary>An error reply (header only); 0 when the chain has no room even for that.</summary>
    private uint Error(int error) => _message.TryWriteHeader(FuseSizes.OutHeader, error) ? (uint)FuseSizes.OutHeader : 0;

    /// <summary>A reply of <paramref name="payload"/> bytes from <see cref="_reply"/>, or -EINVAL... when it does not fit: the guest gave too little room.</summary>
    private uint Reply(int payload)
    {
        var m = _message;
        if (!m.Fits(payload)) return Error(-Errno.EINVAL);
        if (!m.Buffers.TryWrite(FuseSizes.OutHeader, _reply.AsSpan(0, payload))) return Error(-Errno.EIO);
        uint length = (uint)(FuseSizes.OutHeader + payload);
        return m.TryWriteHeader(length, 0) ? length : 0;
    }

    /// <summary>0 → an empty success reply; an error → that error.</summary>
    private uint Status(int result) => result < 0 ? Error(result) : Reply(0);

    /// <summary>Needs at least <paramref name="size"/> argument bytes (the fixed struct of the opcode).</summary>
    private bool Short(int size) => _message.BodyCopied < size;

    private ReadOnlySpan<byte> Body => _message.Body;
    private static uint U32(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt32LittleEndian(s[at..]);
    private static ulong U64(ReadOnlySpan<byte> s, int at) => BinaryPrimitives.ReadUInt64LittleEndian(s[at..]);

    /// <summary>fuse_attr (fuse.h) from a host stat.</summary>
    private static void WriteAttr(Span<byte> a, in HostStat s)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(a, s.Inode);
        BinaryPrimitives.WriteUInt64LittleEndian(a[8..], (ulong)s.Size);
        BinaryPrimitives.WriteUInt64LittleEndian(a[16..], (ulong)s.Blocks);
        BinaryPrimitives.WriteUInt64LittleEndian(a[24..], (ulong)s.Atime);
        BinaryPrimitives.WriteUInt64LittleEndian(a[32..], (ulong)s.Mtime);
        BinaryPrimitives.WriteUInt64LittleEndian(a[40..], (ulong)s.Ctime);
        BinaryPrimitives.WriteUInt32LittleEndian(a[48..], (uint)s.AtimeNs);
        BinaryPrimitives.WriteUInt32LittleEndian(a[52..], (uint)s.MtimeNs);
        BinaryPrimitives.WriteUInt32LittleEndian(a[56..], (uint)s.CtimeNs);
        BinaryPrimitives.WriteUInt32LittleEndian(a[60..], s.Mode);
        BinaryPrimitives.WriteUInt32LittleEndian(a[64..], (uint)Math.Min(s.Links, uint.MaxValue));
        BinaryPrimitives.WriteUInt32LittleEndian(a[68..], s.Uid);
        BinaryPrimitives.WriteUInt32LittleEndian(a[72..], s.Gid);
        BinaryPrimitives.WriteUInt32LittleEndian(a[76..], (uint)s.RawDevice);
        BinaryPrimitives.WriteUInt32LittleEndian(a[80..], (uint)Math.Clamp(s.BlockSize, 0, uint.MaxValue));
        BinaryPrimitives.WriteUInt32LittleEndian(a[84..], 0);
    }

    /// <summary>fuse_entry_out for <paramref name="node"/> (nodeid 0: a negative entry, nothing to remember).</summary>
    private static void WriteEntry(Span<byte> e, ulong nodeId, in HostStat stat)
    {
        e[..FuseSizes.EntryOut].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(e, nodeId);
        BinaryPrimitives.WriteUInt64LittleEndian(e[8..], 0);              // generation: node ids are never reused
        BinaryPrimitives.WriteUInt64LittleEndian(e[16..], nodeId == 0 ? 0 : CacheSeconds);
        BinaryPrimitives.WriteUInt64LittleEndian(e[24..], nodeId == 0 ? 0 : CacheSeconds);
        if (nodeId != 0) WriteAttr(e[40..], stat);
    }

    /// <summary>An entry reply for a call that made or found a node.</summary>
    private uint Entry(int result, FsNode? node, in HostStat stat)
    {
        if (result < 0) return Error(result);
        WriteEntry(_reply, node!.Id, stat);
        uint written = Reply(FuseSizes.EntryOut);
        // The guest only counts the lookup if it got the reply; one it could not take is forgotten here.
        if (written != FuseSizes.OutHeader + FuseSizes.EntryOut) _dir.Forget(node.Id, 1);
        return written;
    }

    private uint Attr(int result, in HostStat stat)
    {
        if (result < 0) return Error(result);
        var a = _reply.AsSpan(0, FuseSizes.AttrOut);
        a.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(a, CacheSeconds);
        WriteAttr(a[16..], stat);
        return Reply(FuseSizes.AttrOut);
    }
}
