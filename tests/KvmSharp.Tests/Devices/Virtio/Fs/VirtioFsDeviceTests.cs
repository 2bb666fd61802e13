using System.Buffers.Binary;
using System.Text;
using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Fs;
using static KvmSharp.Tests.Devices.Virtio.Fs.FuseRig;

namespace KvmSharp.Tests.Devices.Virtio.Fs;

/// <summary>virtio-fs and its FUSE server through a mock driver: the operations a guest uses, and hostile requests.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VirtioFsDeviceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-fs-").FullName;
    private string Share => Path.Combine(_dir, "share");

    public VirtioFsDeviceTests()
    {
        Directory.CreateDirectory(Share);
        File.WriteAllText(Path.Combine(Share, "hello.txt"), "hello from the host\n");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ConfigSpaceHoldsTheTagAndOneRequestQueue()
    {
        using var device = new VirtioFsDevice("share", Share, false, _ => { });
        Assert.Equal((VirtioDeviceType)26, device.DeviceType);
        Assert.Equal(2, device.QueueSizes.Count);
        var config = new byte[device.ConfigSize];
        device.ReadConfig(0, config);
        Assert.Equal("share", Encoding.UTF8.GetString(config, 0, 5));
        Assert.All(config[5..36], b => Assert.Equal(0, b));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(36)));
        Assert.Throws<ArgumentException>(() => new VirtioFsDevice(new string('t', 37), Share, false, _ => { }));
        Assert.Throws<ArgumentException>(() => new VirtioFsDevice("", Share, false, _ => { }));
        Assert.Throws<IOException>(() => new VirtioFsDevice("x", Path.Combine(_dir, "missing"), false, _ => { }));
    }

    [Fact]
    public void InitNegotiatesOurMinorAndOnlyFlagsBothSidesHave()
    {
        using var rig = new FuseRig(Share, init: false);
        Assert.Equal(EIO, rig.Call(GetAttr, 1, Bytes(0u, 0u, 0UL)).Error);   // nothing before INIT
        Assert.Equal(EPROTO, rig.DoInit(6, 0).Error);
        var (error, reply) = rig.DoInit(7, 36, flags: (1u << 13) | (1u << 22) | (1u << 16));
        Assert.Equal(0, error);
        Assert.Equal(7u, BinaryPrimitives.ReadUInt32LittleEndian(reply));
        Assert.Equal(31u, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(4)));
        // READDIRPLUS and MAX_PAGES are ours too; WRITEBACK_CACHE (bit 16) is not taken.
        Assert.Equal((1u << 13) | (1u << 22), BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(12)));
        Assert.Equal(1u << 20, BinaryPrimitives.ReadUInt32LittleEndian(reply.AsSpan(20)));   // max_write
        Assert.Equal(256, BinaryPrimitives.ReadUInt16LittleEndian(reply.AsSpan(28)));        // max_pages
        rig.AssertAlive();
    }

    private const int EPROTO = 71;

    [Fact]
    public void ReadsWritesRenamesAndListsLikeAFileSystem()
    {
        using var rig = new FuseRig(Share);
        ulong hello = rig.MustLookup(1, "hello.txt");
        Assert.Equal(hello, rig.MustLookup(1, "hello.txt"));   // one inode, one node
        ulong h = rig.MustOpen(hello, 0);
        var (error, data) = rig.DoRead(h, 0, 4096, hello);
        Assert.Equal(0, error);
        Assert.Equal("hello from the host\n", Encoding.UTF8.GetString(data));
        Assert.Equal("from the host\n", Encoding.UTF8.GetString(rig.DoRead(h, 6, 4096, hello).Data));
        Assert.Empty(rig.DoRead(h, 1000, 4096, hello).Data);
        Assert.Equal(0, rig.Call(Release, hello, Bytes(h, 0u, 0u, 0UL)).Error);
        Assert.Equal(EBADF, rig.DoRead(h, 0, 16, hello).Error);   // released

        var (node, handle) = rig.MustCreate(1, "new.bin");
        byte[] payload = new byte[300_000];
        new Random(3).NextBytes(payload);
        for (int at = 0; at < payload.Length; at += 100_000)
        {
            var (e, w) = rig.DoWrite(handle, at, payload[at..(at + 100_000)], node);
            Assert.Equal(0, e);
            Assert.Equal(100_000u, BinaryPrimitives.ReadUInt32LittleEndian(w));
        }
        Assert.Equal(0, rig.Call(Fsync, node, Bytes(handle, 0u, 0u)).Error);
        Assert.Equal(0, rig.Call(Flush, node, Bytes(handle, 0u, 0u, 0UL)).Error);
        Assert.Equal(payload, File.ReadAllBytes(Path.Combine(Share, "new.bin")));
        Assert.Equal(EEXIST, rig.Call(Create, 1, Bytes(2 | 0x80, 0x1A4u, 0u, 0u, "new.bin")).Error);   // O_EXCL

        // SETATTR: mode and size; GETATTR sees both, and so does the host.
        var (se, attr) = rig.Call(SetAttr, node, Bytes(1u | 8u, 0u, 0UL, 1000UL, 0UL, 0UL, 0UL, 0UL, 0u, 0u, 0u, 0x180u, 0u, 0u, 0u, 0u));
        Assert.Equal(0, se);
        Assert.Equal(0x8180u, AttrMode(attr));
        Assert.Equal(1000UL, AttrSize(attr));
        Assert.Equal(1000, new FileInfo(Path.Combine(Share, "new.bin")).Length);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(Share, "new.bin")));

        Assert.Equal(0, rig.Call(Rename, 1, Bytes(1UL, "new.bin", "renamed.bin")).Error);
        Assert.True(File.Exists(Path.Combine(Share, "renamed.bin")));
        Assert.False(File.Exists(Path.Combine(Share, "new.bin")));
        Assert.Equal(EEXIST, rig.Call(Rename2, 1, Bytes(1UL, 1u, 0u, "renamed.bin", "hello.txt")).Error);   // NOREPLACE

        var (me, dir) = rig.Call(Mkdir, 1, Bytes(0x1EDu, 0u, "sub"));
        Assert.Equal(0, me);
        ulong sub = NodeId(dir);
        Assert.True(Directory.Exists(Path.Combine(Share, "sub")));
        Assert.Equal(0, rig.Call(Rename, 1, Bytes(sub, "renamed.bin", "moved.bin")).Error);
        Assert.True(File.Exists(Path.Combine(Share, "sub", "moved.bin")));
        Assert.Equal(ENOTEMPTY, rig.Call(Rmdir, 1, Name("sub")).Error);
        Assert.Equal(0, rig.Call(Link, 1, Bytes(rig.MustLookup(sub, "moved.bin"), "hard.bin")).Error);
        File.AppendAllText(Path.Combine(Share, "sub", "moved.bin"), "!");   // one inode under two names
        Assert.Equal(1001, new FileInfo(Path.Combine(Share, "hard.bin")).Length);
        Assert.Equal(0, rig.Call(Unlink, sub, Name("moved.bin")).Error);
        Assert.Equal(0, rig.Call(Rmdir, 1, Name("sub")).Error);
        Assert.False(Directory.Exists(Path.Combine(Share, "sub")));

        Assert.Equal(["hard.bin", "hello.txt"], rig.List(1).Where(n => n is not "." and not "..").Order().ToList());
        var (me2, _) = rig.Call(Mknod, 1, Bytes(0x8000u | 0x1A4u, 0u, 0u, 0u, "plain"));
        Assert.Equal(0, me2);
        Assert.Equal(EPERM, rig.Call(Mknod, 1, Bytes(0x1000u | 0x1A4u, 0u, 0u, 0u, "fifo")).Error);   // S_IFIFO
        Assert.False(File.Exists(Path.Combine(Share, "fifo")));
        Assert.Equal(0, rig.Call(StatFs, 1, []).Error);
        Assert.Equal(0, rig.Call(Access, hello, Bytes(4u, 0u)).Error);
        Assert.Equal(ENOSYS, rig.Call(GetXattr, hello, Bytes(0u, 0u, "user.x")).Error);
        Assert.Equal(ENOSYS, rig.Call(999, 1, []).Error);
        rig.AssertAlive();
    }

    [Fact]
    public void ReaddirplusCountsALookupForEachEntryButDots()
    {
        using var rig = new FuseRig(Share);
        File.WriteAllText(Path.Combine(Share, "b.txt"), "b");
        var (_, open) = rig.Call(OpenDir, 1, Bytes(0, 0u));
        ulong handle = Handle(open);
        var (error, data) = rig.Call(ReadDirPlus, 1, Bytes(handle, 0L, 8192u, 0u, 0UL, 0u, 0u));
        Assert.Equal(0, error);
        var seen = new Dictionary<string, ulong>();
        for (int at = 0; at < data.Length;)
        {
            ulong node = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(at));
            int length = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(at + 128 + 16));
            seen[Encoding.UTF8.GetString(data, at + 128 + 24, length)] = node;
            at += 128 + ((24 + length + 7) & ~7);
        }
        Assert.Equal(0UL, seen["."]);
        Assert.Equal(0UL, seen[".."]);
        Assert.Equal(rig.MustLookup(1, "b.txt"), seen["b.txt"]);
        // A room too small for even one entry is an error, never an empty (end of directory) reply.
        Assert.Equal(EINVAL, rig.Call(ReadDirPlus, 1, Bytes(handle, 0L, 16u, 0u, 0UL, 0u, 0u)).Error);
    }

    [Fact]
    public void ForgetDropsANodeOnlyWhenEveryLookupIsGivenBack()
    {
        using var rig = new FuseRig(Share);
        ulong hello = rig.MustLookup(1, "hello.txt");
        rig.MustLookup(1, "hello.txt");
        Assert.Equal(0u, rig.Raw(Forget, hello, Bytes(1UL), replyRoom: 0, queue: 0).Used);
        Assert.Equal(0, rig.Call(GetAttr, hello, Bytes(0u, 0u, 0UL)).Error);   // one lookup still held
        // BATCH_FORGET with a count far past the entries present takes only those.
        Assert.Equal(0u, rig.Raw(BatchForget, 0, Bytes(1_000_000u, 0u, hello, 1UL), replyRoom: 0, queue: 0).Used);
        Assert.Equal(ENOENT, rig.Call(GetAttr, hello, Bytes(0u, 0u, 0UL)).Error);
        rig.Raw(Forget, 1, Bytes(ulong.MaxValue), replyRoom: 0, queue: 0);   // the root is never forgotten
        rig.AssertAlive();
    }

    [Fact]
    public void HostileRequestsGetErrnosAndTheDeviceKeepsServing()
    {
        using var rig = new FuseRig(Share);
        ulong hello = rig.MustLookup(1, "hello.txt");
        ulong h = rig.MustOpen(hello, 2);
        // Header len past the readable bytes, and shorter than the header itself.
        Assert.Equal(EINVAL, rig.Call(Lookup, 1, Name("hello.txt"), headerLength: 4096).Error);
        Assert.Equal(EINVAL, rig.Call(Lookup, 1, Name("hello.txt"), headerLength: 12).Error);
        // Names: no NUL, '/', dots, empty, too long.
        Assert.Equal(EINVAL, rig.Call(Lookup, 1, Encoding.UTF8.GetBytes("hello.txt")).Error);
        Assert.Equal(EINVAL, rig.LookupError(1, "../hello.txt"));
        Assert.Equal(EINVAL, rig.LookupError(1, "a/b"));
        Assert.Equal(EINVAL, rig.LookupError(1, "."));
        Assert.Equal(EINVAL, rig.LookupError(1, ".."));
        Assert.Equal(EINVAL, rig.LookupError(1, ""));
        Assert.Equal(ENAMETOOLONG, rig.LookupError(1, new string('a', 256)));
        // Unknown, zero and file-not-directory node ids.
        Assert.Equal(ENOENT, rig.LookupError(0xDEAD_BEEF, "x"));
        Assert.Equal(ENOENT, rig.LookupError(0, "x"));
        Assert.Equal(ENOTDIR, rig.LookupError(hello, "x"));
        Assert.Equal(ENOENT, rig.Call(GetAttr, 999, Bytes(0u, 0u, 0UL)).Error);
        // Handles: invented, a directory handle used as a file and the reverse.
        Assert.Equal(EBADF, rig.DoRead(12345, 0, 16).Error);
        Assert.Equal(EBADF, rig.DoWrite(12345, 0, [1, 2, 3]).Error);
        Assert.Equal(EBADF, rig.Call(ReleaseDir, 1, Bytes(h, 0u, 0u, 0UL)).Error);
        // Offsets and sizes: negative, past 2^63, a WRITE claiming more data than it carries, a short struct.
        Assert.Equal(EINVAL, rig.DoRead(h, -1, 16, hello).Error);
        Assert.Equal(EINVAL, rig.DoWrite(h, long.MaxValue, [1], hello).Error);
        Assert.Equal(EINVAL, rig.DoWrite(h, 0, [1, 2, 3], hello, size: 1_000_000).Error);
        Assert.Equal(EINVAL, rig.Call(Read, hello, Bytes(h)).Error);
        Assert.Equal(EINVAL, rig.Call(SetAttr, hello, Bytes(8u)).Error);
        Assert.Equal(EINVAL, rig.Call(Rename2, 1, Bytes(1UL, 0x80u, 0u, "hello.txt", "x")).Error);   // unknown rename flag
        Assert.Equal(EINVAL, rig.Call(Open, hello, Bytes(3, 0u)).Error);                            // O_ACCMODE 3
        // A reply room too small for the reply: an error in the header that fits.
        Assert.Equal(EINVAL, rig.Call(GetAttr, 1, Bytes(0u, 0u, 0UL), replyRoom: 20).Error);
        // No room even for a header: nothing written, the request used with 0 bytes.
        Assert.Equal(0u, rig.Raw(GetAttr, 1, Bytes(0u, 0u, 0UL), replyRoom: 8).Used);
        Assert.Equal(0u, rig.Raw(GetAttr, 1, [], replyRoom: 0).Used);
        // Random garbage of every length up to a few headers.
        var random = new Random(7);
        for (int i = 0; i < 200; i++)
        {
            var junk = new byte[random.Next(0, 200)];
            random.NextBytes(junk);
            rig.Raw((uint)random.Next(0, 60), (ulong)random.Next(0, 5), junk, replyRoom: (uint)random.Next(0, 300),
                headerLength: random.Next(2) == 0 ? null : (uint)random.Next());
        }
        Assert.Equal("hello from the host\n", File.ReadAllText(Path.Combine(Share, "hello.txt")));
        Assert.Equal(0, rig.DoInit(7, 36).Error);   // the junk may have held a DESTROY, which ends the session
        rig.AssertAlive();
        Assert.Empty(rig.Notices);
    }

    [Fact]
    public void AReadOnlyShareRefusesEveryChangeWithErofs()
    {
        using var rig = new FuseRig(Share, readOnly: true);
        ulong hello = rig.MustLookup(1, "hello.txt");
        Assert.Equal(EROFS, rig.Call(Open, hello, Bytes(1, 0u)).Error);
        Assert.Equal(EROFS, rig.Call(Open, hello, Bytes(0x200, 0u)).Error);    // O_TRUNC
        ulong h = rig.MustOpen(hello, 0);
        Assert.Equal(EROFS, rig.DoWrite(h, 0, [1], hello).Error);
        Assert.Equal(EROFS, rig.Call(Create, 1, Bytes(2, 0x1A4u, 0u, 0u, "x")).Error);
        Assert.Equal(EROFS, rig.Call(Mkdir, 1, Bytes(0x1EDu, 0u, "d")).Error);
        Assert.Equal(EROFS, rig.Call(Mknod, 1, Bytes(0x81A4u, 0u, 0u, 0u, "n")).Error);
        Assert.Equal(EROFS, rig.Call(Symlink, 1, Bytes("l", "hello.txt")).Error);
        Assert.Equal(EROFS, rig.Call(Link, 1, Bytes(hello, "l")).Error);
        Assert.Equal(EROFS, rig.Call(Unlink, 1, Name("hello.txt")).Error);
        Assert.Equal(EROFS, rig.Call(Rename, 1, Bytes(1UL, "hello.txt", "x")).Error);
        Assert.Equal(EROFS, rig.Call(SetAttr, hello, Bytes(1u, 0u, 0UL, 0UL, 0UL, 0UL, 0UL, 0UL, 0u, 0u, 0u, 0x1FFu, 0u, 0u, 0u, 0u)).Error);
        Assert.Equal(EROFS, rig.Call(Fallocate, hello, Bytes(h, 0L, 4096L, 0u, 0u)).Error);
        Assert.Equal(new[] { "hello.txt" }, Directory.GetFileSystemEntries(Share).Select(Path.GetFileName));
        Assert.Equal("hello from the host\n", File.ReadAllText(Path.Combine(Share, "hello.txt")));
        Assert.Equal("hello", Encoding.UTF8.GetString(rig.DoRead(h, 0, 5, hello).Data));
    }
}
