using System.Buffers.Binary;
using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>One method per opcode: the argument structs of fuse.h read from the checked body, the work done by the jail.</summary>
internal sealed partial class FuseServer
{
    private uint Init()
    {
        if (Short(FuseSizes.InitIn)) return Error(-Errno.EINVAL);
        uint major = U32(Body, 0), minor = U32(Body, 4), readahead = U32(Body, 8), flags = U32(Body, 12);
        if (major < FuseInit.Major) return Error(-Errno.EPROTO);
        var o = _reply.AsSpan(0, FuseSizes.InitOut);
        o.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(o, FuseInit.Major);
        // A newer major: answer with ours only and the kernel asks again in it (fuse.h's version negotiation).
        if (major > FuseInit.Major) return Reply(FuseSizes.InitOut);
        Minor = Math.Min(minor, FuseInit.Minor);
        uint agreed = flags & FuseInit.Offered;
        BinaryPrimitives.WriteUInt32LittleEndian(o[4..], Minor);
        BinaryPrimitives.WriteUInt32LittleEndian(o[8..], Math.Min(readahead, FuseInit.MaxReadahead));
        BinaryPrimitives.WriteUInt32LittleEndian(o[12..], agreed);
        BinaryPrimitives.WriteUInt16LittleEndian(o[16..], 64);    // max_background
        BinaryPrimitives.WriteUInt16LittleEndian(o[18..], 48);    // congestion_threshold
        BinaryPrimitives.WriteUInt32LittleEndian(o[20..], (agreed & FuseInit.MaxPages) != 0 ? FuseInit.MaxWrite : 32 * 4096u);
        BinaryPrimitives.WriteUInt32LittleEndian(o[24..], 1);     // time_gran: nanoseconds, as the host keeps them
        BinaryPrimitives.WriteUInt16LittleEndian(o[28..], (agreed & FuseInit.MaxPages) != 0 ? FuseInit.MaxPagesPerRequest : (ushort)0);
        uint written = Reply(FuseSizes.InitOut);
        Initialized = written == FuseSizes.OutHeader + FuseSizes.InitOut;
        return written;
    }

    private uint Destroy()
    {
        _dir.ForgetAll();
        Initialized = false;
        return Reply(0);
    }

    private void Forget()
    {
        var m = _message;
        if (m.Opcode == FuseOpcode.Forget)
        {
            if (!Short(FuseSizes.ForgetIn)) _dir.Forget(m.NodeId, U64(Body, 0));
            return;
        }
        if (Short(FuseSizes.BatchForgetIn)) return;
        // The count is the guest's: only entries actually present are taken.
        long count = Math.Min(U32(Body, 0), (m.BodyCopied - FuseSizes.BatchForgetIn) / FuseSizes.ForgetOne);
        for (int i = 0; i < count; i++)
        {
            int at = FuseSizes.BatchForgetIn + i * FuseSizes.ForgetOne;
            _dir.Forget(U64(Body, at), U64(Body, at + 8));
        }
    }

    private uint Lookup()
    {
        int at = 0;
        int error = _message.TakeName(ref at, out var name);
        if (error < 0) return Error(error);
        error = _dir.Lookup(_message.NodeId, name!, out var node, out var stat);
        return Entry(error, node, stat);
    }

    private uint GetAttr() => Attr(_dir.GetAttr(_message.NodeId, out var stat), stat);

    private uint SetAttr()
    {
        if (Short(FuseSizes.SetAttrIn)) return Error(-Errno.EINVAL);
        var b = Body;
        var change = new SharedDirectory.AttrChange(
            Valid: U32(b, 0), Handle: U64(b, 8), Size: U64(b, 16),
            Atime: (long)U64(b, 32), AtimeNs: U32(b, 56), Mtime: (long)U64(b, 40), MtimeNs: U32(b, 60),
            Mode: U32(b, 68), Uid: U32(b, 76), Gid: U32(b, 80));
        return Attr(_dir.SetAttr(_message.NodeId, change, out var stat), stat);
    }

    private uint ReadLink()
    {
        int error = _dir.ReadLink(_message.NodeId, out byte[] target);
        if (error < 0) return Error(error);
        target.CopyTo(_reply, 0);
        return Reply(target.Length);
    }

    private uint Symlink()
    {
        int at = 0;
        int error = _message.TakeName(ref at, out var name);
        if (error < 0) return Error(error);
        error = _message.TakeText(ref at, out var target);
        if (error < 0) return Error(error);
        error = _dir.Symlink(_message.NodeId, name!, target, _message.Uid, _message.Gid, out var node, out var stat);
        return Entry(error, node, stat);
    }

    private uint Mknod()
    {
        if (Short(FuseSizes.MknodIn)) return Error(-Errno.EINVAL);
        uint mode = U32(Body, 0);
        int at = FuseSizes.MknodIn;
        int error = _message.TakeName(ref at, out var name);
        if (error < 0) return Error(error);
        error = _dir.Mknod(_message.NodeId, name!, mode, _message.Uid, _message.Gid, out var node, out var stat);
        return Entry(error, node, stat);
    }

    private uint Mkdir()
    {
        if (Short(FuseSizes.MkdirIn)) return Error(-Errno.EINVAL);
        uint mode = U32(Body, 0);
        int at = FuseSizes.MkdirIn;
        int error = _message.TakeName(ref at, out var name);
        if (error < 0) return Error(error);
        error = _dir.Mkdir(_message.NodeId, name!, mode, _message.Uid, _message.Gid, out var node, out var stat);
        return Entry(error, node, stat);
    }

    private uint Remove(bool directory)
    {
        int at = 0;
        int error = _message.TakeName(ref at, out var name);
        return Status(error < 0 ? error : _dir.Remove(_message.NodeId, name!, directory));
    }

    private uint Rename(bool two)
    {
        int size = two ? FuseSizes.Rename2In : FuseSizes.RenameIn;
        if (Short(size)) return Error(-Errno.EINVAL);
        ulong newParent = U64(Body, 0);
        uint flags = two ? U32(Body, 8) : 0;
        int at = size;
        int error = _message.TakeName(ref at, out var oldName);
        if (error < 0) return Error(error);
        error = _message.TakeName(ref at, out var newName);
        if (error < 0) return Error(error);
        return Status(_dir.Rename(_message.NodeId, oldName!, newParent, newName!, flags));
    }

    private uint Link()
    {
        if (Short(FuseSizes.LinkIn)) return Error(-Errno.EINVAL);
        ulong oldId = U64(Body, 0);
        int at = FuseSizes.LinkIn;
        int error = _message.TakeName(ref at, out var name);
        if (error < 0) return Error(error);
        error = _dir.Link(oldId, _message.NodeId, name!, out var node, out var stat);
        return Entry(error, node, stat);
    }

    private uint OpenReply(int error, ulong handle, bool directory)
    {
        if (error < 0) return Error(error);
        var o = _reply.AsSpan(0, FuseSizes.OpenOut);
        o.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(o, handle);
        uint written = Reply(FuseSizes.OpenOut);
        if (written != FuseSizes.OutHeader + FuseSizes.OpenOut) _dir.Release(handle, directory);
        return written;
    }

    private uint Open()
    {
        if (Short(FuseSizes.OpenIn)) return Error(-Errno.EINVAL);
        int error = _dir.Open(_message.NodeId, U32(Body, 0), out ulong handle);
        return OpenReply(error, handle, directory: false);
    }

    private uint OpenDir()
    {
        int error = _dir.OpenDir(_message.NodeId, out ulong handle);
        return OpenReply(error, handle, directory: true);
    }

    private uint Create()
    {
        if (Short(FuseSizes.CreateIn)) return Error(-Errno.EINVAL);
        uint flags = U32(Body, 0), mode = U32(Body, 4);
        int at = FuseSizes.CreateIn;
        int error = _message.TakeName(ref at, out var name);
        if (error < 0) return Error(error);
        error = _dir.Create(_message.NodeId, name!, flags, mode, _message.Uid, _message.Gid, out var node, out var stat, out ulong handle);
        if (error < 0) return Error(error);
        var o = _reply.AsSpan(0, FuseSizes.EntryOut + FuseSizes.OpenOut);
        WriteEntry(o, node!.Id, stat);
        o[FuseSizes.EntryOut..].Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(o[FuseSizes.EntryOut..], handle);
        uint written = Reply(o.Length);
        if (written != FuseSizes.OutHeader + o.Length)
        {
            _dir.Release(handle, directory: false);
            _dir.Forget(node.Id, 1);
        }
        return written;
    }

    private uint Read()
    {
        if (Short(FuseSizes.ReadIn)) return Error(-Errno.EINVAL);
        ulong handle = U64(Body, 0);
        long offset = (long)U64(Body, 8);
        uint size = Math.Min(U32(Body, 16), FuseInit.MaxWrite);
        var m = _message;
        if (m.Buffers.WritableLength < FuseSizes.OutHeader) return 0;
        ulong want = Math.Min(size, m.ReplyRoom);
        var pieces = m.Buffers.Pieces(writable: true, FuseSizes.OutHeader, want);
        ulong total = 0;
        while (pieces.Next(out GuestAddress address, out int length))
        {
            int n = _dir.Read(handle, offset + (long)total, m.Buffers.Memory.GetSpan(address, length));
            if (n < 0)
            {
                if (total == 0) return Error(n);
                break;
            }
            total += (ulong)n;
            if (n < length) break;   // end of file
        }
        uint replyLength = (uint)(FuseSizes.OutHeader + total);
        return m.TryWriteHeader(replyLength, 0) ? replyLength : 0;
    }

    private uint Write()
    {
        if (Short(FuseSizes.WriteIn)) return Error(-Errno.EINVAL);
        ulong handle = U64(Body, 0);
        long offset = (long)U64(Body, 8);
        uint size = U32(Body, 16);
        var m = _message;
        if (size > m.BodyLength - FuseSizes.WriteIn || size > FuseInit.MaxWrite) return Error(-Errno.EINVAL);
        if (offset < 0 || offset > long.MaxValue - size) return Error(-Errno.EINVAL);
        var pieces = m.Buffers.Pieces(writable: false, FuseSizes.InHeader + FuseSizes.WriteIn, size);
        ulong total = 0;
        while (pieces.Next(out GuestAddress address, out int length))
        {
            int n = _dir.Write(handle, offset + (long)total, m.Buffers.Memory.GetReadOnlySpan(address, length));
            if (n < 0)
            {
                if (total == 0) return Error(n);
                break;
            }
            total += (ulong)n;
            if (n < length) break;
        }
        var o = _reply.AsSpan(0, FuseSizes.WriteOut);
        o.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(o, (uint)total);
        return Reply(FuseSizes.WriteOut);
    }

    private uint StatFs()
    {
        int error = _dir.StatFs(_message.NodeId, out var s);
        if (error < 0) return Error(error);
        var o = _reply.AsSpan(0, FuseSizes.StatFsOut);
        o.Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(o, s.Blocks);
        BinaryPrimitives.WriteUInt64LittleEndian(o[8..], s.FreeBlocks);
        BinaryPrimitives.WriteUInt64LittleEndian(o[16..], s.AvailableBlocks);
        BinaryPrimitives.WriteUInt64LittleEndian(o[24..], s.Files);
        BinaryPrimitives.WriteUInt64LittleEndian(o[32..], s.FreeFiles);
        BinaryPrimitives.WriteUInt32LittleEndian(o[40..], (uint)s.BlockSize);
        BinaryPrimitives.WriteUInt32LittleEndian(o[44..], (uint)s.NameLength);
        BinaryPrimitives.WriteUInt32LittleEndian(o[48..], (uint)s.FragmentSize);
        return Reply(FuseSizes.StatFsOut);
    }

    private uint Release(bool directory) =>
        Short(FuseSizes.ReleaseIn) ? Error(-Errno.EINVAL) : Status(_dir.Release(U64(Body, 0), directory));

    private uint Fsync(bool directory) =>
        Short(FuseSizes.FsyncIn) ? Error(-Errno.EINVAL) : Status(_dir.Fsync(U64(Body, 0), directory, (U32(Body, 8) & 1) != 0));

    private uint Flush() => Short(FuseSizes.FlushIn) ? Error(-Errno.EINVAL) : Status(_dir.Flush(U64(Body, 0)));

    private uint Access() => Short(FuseSizes.AccessIn) ? Error(-Errno.EINVAL) : Status(_dir.Access(_message.NodeId, (int)U32(Body, 0)));

    private uint Lseek()
    {
        if (Short(FuseSizes.LseekIn)) return Error(-Errno.EINVAL);
        int error = _dir.Lseek(U64(Body, 0), (long)U64(Body, 8), (int)U32(Body, 16), out long result);
        if (error < 0) return Error(error);
        BinaryPrimitives.WriteInt64LittleEndian(_reply, result);
        return Reply(FuseSizes.LseekOut);
    }

    private uint Fallocate() =>
        Short(FuseSizes.FallocateIn) ? Error(-Errno.EINVAL)
        : Status(_dir.Fallocate(U64(Body, 0), (int)U32(Body, 24), (long)U64(Body, 8), (long)U64(Body, 16)));

    /// <summary>
    /// READDIR and READDIRPLUS: fuse_dirent records (each padded to 8 bytes), with a fuse_entry_out before each for
    /// READDIRPLUS; as many as fit in the size asked for. The offset in each is the host's cookie for the next.
    /// </summary>
    private uint ReadDir(bool plus)
    {
        if (Short(FuseSizes.ReadIn)) return Error(-Errno.EINVAL);
        ulong handle = U64(Body, 0);
        long offset = (long)U64(Body, 8);
        var m = _message;
        if (m.Buffers.WritableLength < FuseSizes.OutHeader) return 0;
        int room = (int)Math.Min(Math.Min(U32(Body, 16), m.ReplyRoom), (ulong)_reply.Length);
        int used = 0;
        bool full = false;
        ulong directoryId = m.NodeId;
        int error = _dir.ReadDir(handle, offset, (in SharedDirectory.DirEntry entry) =>
        {
            int record = (FuseSizes.DirentHeader + entry.Name.Length + 7) & ~7;
            int size = record + (plus ? FuseSizes.EntryOut : 0);
            if (used + size > room) { full = true; return false; }
            var o = _reply.AsSpan(used, size);
            o.Clear();
            if (plus)
            {
                bool dots = entry.Name is [(byte)'.'] or [(byte)'.', (byte)'.'];
                FsNode? node = null;
                HostStat stat = default;
                if (!dots && _dir.LookupEntry(directoryId, entry.Name, out node, out stat) < 0) node = null;
                WriteEntry(o, node?.Id ?? 0, stat);
                o = o[FuseSizes.EntryOut..];
            }
            BinaryPrimitives.WriteUInt64LittleEndian(o, entry.Inode);
            BinaryPrimitives.WriteInt64LittleEndian(o[8..], entry.NextOffset);
            BinaryPrimitives.WriteUInt32LittleEndian(o[16..], (uint)entry.Name.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(o[20..], entry.Type);
            entry.Name.CopyTo(o[FuseSizes.DirentHeader..]);
            used += size;
            return true;
        });
        if (error < 0) return Error(error);
        // Room for not even one entry is the guest's mistake; an empty reply would read as the end of the directory.
        if (used == 0 && full) return Error(-Errno.EINVAL);
        return Reply(used);
    }
}
