using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using KvmSharp.Devices.Virtio.Fs;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Devices.Virtio.Fs;

/// <summary>
/// A guest's FUSE driver in miniature: a <see cref="VirtioFsDevice"/> on a <see cref="VirtioDeviceHarness"/>, each
/// request built by hand (fuse_in_header and the arguments in readable buffers, a writable buffer for the reply)
/// and put on the request queue (queue 1) or, for FORGET, the hiprio queue (queue 0).
/// </summary>
internal sealed class FuseRig : IDisposable
{
    public const uint Lookup = 1, Forget = 2, GetAttr = 3, SetAttr = 4, ReadLink = 5, Symlink = 6, Mknod = 8, Mkdir = 9, Unlink = 10,
        Rmdir = 11, Rename = 12, Link = 13, Open = 14, Read = 15, Write = 16, StatFs = 17, Release = 18, Fsync = 20, GetXattr = 22,
        Flush = 25, Init = 26, OpenDir = 27, ReadDir = 28, ReleaseDir = 29, Access = 34, Create = 35, Destroy = 38, BatchForget = 42,
        Fallocate = 43, ReadDirPlus = 44, Rename2 = 45, Lseek = 46;

    public const int ENOENT = 2, EIO = 5, EBADF = 9, EEXIST = 17, ENOTDIR = 20, EISDIR = 21, EINVAL = 22, EROFS = 30,
        ENAMETOOLONG = 36, ENOSYS = 38, ENOTEMPTY = 39, ELOOP = 40, EPERM = 1;

    private readonly ushort[] _used = new ushort[2];
    private ulong _unique = 1;

    /// <param name="restore">A saved state the device loads before its activation (then no INIT is sent).</param>
    public FuseRig(string path, bool readOnly = false, bool init = true, VirtioFsState? restore = null)
    {
        Device = new VirtioFsDevice("share", path, readOnly, Notices.Enqueue);
        if (restore is not null) Device.RestoreState(restore);
        Harness = new VirtioDeviceHarness(Device);
        Harness.Activate();
        if (init && restore is null) Assert.Equal(0, DoInit(7, 36).Error);
    }

    public VirtioFsDevice Device { get; }
    public VirtioDeviceHarness Harness { get; }
    public ConcurrentQueue<string> Notices { get; } = new();

    public (int Error, byte[] Payload) DoInit(uint major, uint minor, uint flags = 0xFFFFFFFF)
    {
        var args = new byte[64];
        BinaryPrimitives.WriteUInt32LittleEndian(args, major);
        BinaryPrimitives.WriteUInt32LittleEndian(args.AsSpan(4), minor);
        BinaryPrimitives.WriteUInt32LittleEndian(args.AsSpan(8), 128 * 1024);
        BinaryPrimitives.WriteUInt32LittleEndian(args.AsSpan(12), flags);
        return Call(Init, 0, args);
    }

    /// <summary>Sends one request and returns the reply's error (positive errno, 0 for success) and payload.</summary>
    public (int Error, byte[] Payload) Call(uint opcode, ulong node, byte[] args, uint replyRoom = 8192, uint? headerLength = null, byte[]? data = null)
    {
        var (used, reply) = Raw(opcode, node, args, replyRoom, headerLength, data);
        Assert.True(used >= 16, $"opcode {opcode}: used length {used}, no fuse_out_header");
        uint length = BinaryPrimitives.ReadUInt32LittleEndian(reply);
        int error = BinaryPrimitives.ReadInt32LittleEndian(reply.AsSpan(4));
        Assert.Equal(used, length);
        Assert.Equal(_unique - 1, BinaryPrimitives.ReadUInt64LittleEndian(reply.AsSpan(8)));
        Assert.True(error <= 0, $"error {error} is not a negative errno");
        return (-error, reply.AsSpan(16, (int)length - 16).ToArray());
    }

    /// <summary>Sends one request as given (the header's len may lie) and returns the used length and the writable buffer.</summary>
    public (uint Used, byte[] Reply) Raw(uint opcode, ulong node, byte[] args, uint replyRoom = 8192, uint? headerLength = null, byte[]? data = null, int queue = 1)
    {
        var request = new byte[40 + args.Length + (data?.Length ?? 0)];
        BinaryPrimitives.WriteUInt32LittleEndian(request, headerLength ?? (uint)request.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(4), opcode);
        BinaryPrimitives.WriteUInt64LittleEndian(request.AsSpan(8), _unique++);
        BinaryPrimitives.WriteUInt64LittleEndian(request.AsSpan(16), node);
        args.CopyTo(request, 40);
        data?.CopyTo(request, 40 + args.Length);
        var driver = Harness.Drivers[queue];
        ushort head = replyRoom == 0
            ? driver.AddChain(out var addresses, ((uint)request.Length, false))
            : driver.AddChain(out addresses, ((uint)request.Length, false), (replyRoom, true));
        Harness.Memory.Write(new GuestAddress(addresses[0]), request);
        byte[] reply = new byte[replyRoom];
        if (replyRoom > 0) Harness.Memory.Write(new GuestAddress(addresses[1]), reply);   // clear what an earlier request left there
        Harness.Submit(queue, head);
        Harness.WaitForUsed(queue, ++_used[queue]);
        var (id, used) = driver.UsedElement((ushort)(_used[queue] - 1));
        Assert.Equal(head, (ushort)id);
        if (replyRoom > 0) Harness.Memory.Read(new GuestAddress(addresses[1]), reply);
        return (used, reply);
    }

    public static byte[] Name(string name) => [.. Encoding.UTF8.GetBytes(name), 0];
    public static byte[] Bytes(params object[] parts)
    {
        var list = new List<byte>();
        foreach (var part in parts)
            switch (part)
            {
                case uint u: list.AddRange(BitConverter.GetBytes(u)); break;
                case int i: list.AddRange(BitConverter.GetBytes(i)); break;
                case ulong l: list.AddRange(BitConverter.GetBytes(l)); break;
                case long l: list.AddRange(BitConverter.GetBytes(l)); break;
                case string s: list.AddRange(Name(s)); break;
                case byte[] b: list.AddRange(b); break;
                default: throw new ArgumentException($"cannot encode {part}");
            }
        return [.. list];
    }

    public static ulong NodeId(byte[] entry) => BinaryPrimitives.ReadUInt64LittleEndian(entry);
    public static uint EntryMode(byte[] entry) => BinaryPrimitives.ReadUInt32LittleEndian(entry.AsSpan(40 + 60));
    public static ulong EntrySize(byte[] entry) => BinaryPrimitives.ReadUInt64LittleEndian(entry.AsSpan(40 + 8));
    public static uint AttrMode(byte[] attrOut) => BinaryPrimitives.ReadUInt32LittleEndian(attrOut.AsSpan(16 + 60));
    public static ulong AttrSize(byte[] attrOut) => BinaryPrimitives.ReadUInt64LittleEndian(attrOut.AsSpan(16 + 8));
    public static ulong Handle(byte[] openOut, int at = 0) => BinaryPrimitives.ReadUInt64LittleEndian(openOut.AsSpan(at));

    /// <summary>LOOKUP that must succeed; the node id.</summary>
    public ulong MustLookup(ulong parent, string name)
    {
        var (error, entry) = Call(Lookup, parent, Name(name));
        Assert.True(error == 0, $"lookup {name}: errno {error}");
        return NodeId(entry);
    }

    public int LookupError(ulong parent, string name) => Call(Lookup, parent, Name(name)).Error;

    public ulong MustOpen(ulong node, int flags)
    {
        var (error, open) = Call(Open, node, Bytes(flags, 0u));
        Assert.True(error == 0, $"open: errno {error}");
        return Handle(open);
    }

    public (int Error, byte[] Data) DoRead(ulong handle, long offset, uint size, ulong node = 1) =>
        Call(Read, node, Bytes((ulong)handle, offset, size, 0u, 0UL, 0u, 0u), replyRoom: size + 16);

    public (int Error, byte[] Payload) DoWrite(ulong handle, long offset, byte[] data, ulong node = 1, uint? size = null) =>
        Call(Write, node, Bytes((ulong)handle, offset, size ?? (uint)data.Length, 0u, 0UL, 0u, 0u), data: data);

    /// <summary>CREATE (flags, mode) that must succeed: the node and the handle.</summary>
    public (ulong Node, ulong Handle) MustCreate(ulong parent, string name, int flags = 2, uint mode = 0x1A4)
    {
        var (error, reply) = Call(Create, parent, Bytes(flags, mode, 0u, 0u, name));
        Assert.True(error == 0, $"create {name}: errno {error}");
        return (NodeId(reply), Handle(reply, 128));
    }

    /// <summary>The names READDIR lists for a directory node (one call of 8 KiB).</summary>
    public List<string> List(ulong dir)
    {
        var (error, open) = Call(OpenDir, dir, Bytes(0, 0u));
        Assert.Equal(0, error);
        ulong handle = Handle(open);
        var names = new List<string>();
        long offset = 0;
        while (true)
        {
            var (e, data) = Call(ReadDir, dir, Bytes(handle, offset, 4096u, 0u, 0UL, 0u, 0u));
            Assert.Equal(0, e);
            if (data.Length == 0) break;
            for (int at = 0; at < data.Length;)
            {
                offset = BinaryPrimitives.ReadInt64LittleEndian(data.AsSpan(at + 8));
                int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at + 16));
                names.Add(Encoding.UTF8.GetString(data, at + 24, length));
                at += (24 + length + 7) & ~7;
            }
        }
        Assert.Equal(0, Call(ReleaseDir, dir, Bytes(handle, 0u, 0u, 0UL)).Error);
        return names;
    }

    /// <summary>The device is still serving: GETATTR of the root answers.</summary>
    public void AssertAlive()
    {
        Assert.Null(Harness.Interrupts.NeedsResetReason);
        Assert.Equal(0, Call(GetAttr, 1, Bytes(0u, 0u, 0UL)).Error);
    }

    public void Dispose() => Harness.Dispose();
}
