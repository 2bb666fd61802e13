using System.Text;
using KvmSharp.Tests.Integration;
using static KvmSharp.Tests.Devices.Virtio.Fs.FuseRig;

namespace KvmSharp.Tests.Devices.Virtio.Fs;

/// <summary>
/// Escapes from the shared folder, tried as a hostile guest would with hand-made FUSE requests: dot-dot names,
/// symlinks to /etc and to a file beside the share (absolute and relative, made by the host or by the guest), names
/// with '/', renames and links toward node ids that are not there. Each is refused, and the file outside the share
/// is never read, written, truncated, linked or touched.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VirtioFsJailTests : IDisposable
{
    private const uint SIfLnk = 0xA000, SIfMt = 0xF000;
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-fsjail-").FullName;
    private string Share => Path.Combine(_dir, "share");
    private string Secret => Path.Combine(_dir, "secret.txt");
    private readonly DateTime _secretTime = new(2001, 2, 3, 4, 5, 6, DateTimeKind.Utc);

    public VirtioFsJailTests()
    {
        Directory.CreateDirectory(Share);
        File.WriteAllText(Secret, "outside the share\n");
        File.SetLastWriteTimeUtc(Secret, _secretTime);
        File.WriteAllText(Path.Combine(Share, "inside.txt"), "inside\n");
        File.CreateSymbolicLink(Path.Combine(Share, "etc"), "/etc");
        File.CreateSymbolicLink(Path.Combine(Share, "abs"), Secret);
        File.CreateSymbolicLink(Path.Combine(Share, "rel"), "../secret.txt");
        File.CreateSymbolicLink(Path.Combine(Share, "up"), "../..");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private void AssertSecretUntouched()
    {
        Assert.Equal("outside the share\n", File.ReadAllText(Secret));
        Assert.Equal(_secretTime, File.GetLastWriteTimeUtc(Secret));
        Assert.Equal(new[] { "secret.txt", "share" }, Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).Order());
    }

    [Fact]
    public void DotDotAndSlashNamesAreRefusedEverywhereANameIsTaken()
    {
        using var rig = new FuseRig(Share);
        Assert.Equal(EINVAL, rig.LookupError(1, ".."));
        Assert.Equal(EINVAL, rig.LookupError(1, "../secret.txt"));
        Assert.Equal(EINVAL, rig.LookupError(1, "/etc/passwd"));
        Assert.Equal(EINVAL, rig.Call(Create, 1, Bytes(2, 0x1A4u, 0u, 0u, "../evil")).Error);
        Assert.Equal(EINVAL, rig.Call(Mkdir, 1, Bytes(0x1EDu, 0u, "../evil")).Error);
        Assert.Equal(EINVAL, rig.Call(Symlink, 1, Bytes("../evil", "x")).Error);
        Assert.Equal(EINVAL, rig.Call(Unlink, 1, Name("../secret.txt")).Error);
        Assert.Equal(EINVAL, rig.Call(Rename, 1, Bytes(1UL, "inside.txt", "../moved.txt")).Error);
        Assert.Equal(EINVAL, rig.Call(Rename, 1, Bytes(1UL, "../secret.txt", "stolen.txt")).Error);
        Assert.Equal(EINVAL, rig.Call(Link, 1, Bytes(rig.MustLookup(1, "inside.txt"), "../linked.txt")).Error);
        Assert.True(File.Exists(Path.Combine(Share, "inside.txt")));
        AssertSecretUntouched();
    }

    [Fact]
    public void HostSymlinksOutOfTheShareAreOnlyText()
    {
        using var rig = new FuseRig(Share);
        foreach (string name in new[] { "etc", "abs", "rel", "up" })
        {
            var (error, entry) = rig.Call(Lookup, 1, Name(name));
            Assert.Equal(0, error);
            Assert.Equal(SIfLnk, EntryMode(entry) & SIfMt);   // the link itself, not what it names
            ulong link = NodeId(entry);
            Assert.Equal(ENOTDIR, rig.LookupError(link, "passwd"));
            Assert.Equal(ENOTDIR, rig.LookupError(link, "secret.txt"));
            Assert.Equal(ELOOP, rig.Call(Open, link, Bytes(0, 0u)).Error);
            Assert.Equal(ELOOP, rig.Call(Open, link, Bytes(2, 0u)).Error);
            Assert.Equal(ENOTDIR, rig.Call(OpenDir, link, Bytes(0, 0u)).Error);
            Assert.Equal(ENOTDIR, rig.Call(Mkdir, link, Bytes(0x1EDu, 0u, "x")).Error);
            Assert.Equal(ENOTDIR, rig.Call(Create, link, Bytes(2, 0x1A4u, 0u, 0u, "x")).Error);
            // Truncating or chmod-ing the link must not reach its target.
            Assert.Equal(EINVAL, rig.Call(SetAttr, link, Bytes(8u, 0u, 0UL, 0UL, 0UL, 0UL, 0UL, 0UL, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u)).Error);
            Assert.NotEqual(0, rig.Call(SetAttr, link, Bytes(1u, 0u, 0UL, 0UL, 0UL, 0UL, 0UL, 0UL, 0u, 0u, 0u, 0x1FFu, 0u, 0u, 0u, 0u)).Error);
            rig.Call(SetAttr, link, Bytes(32u, 0u, 0UL, 0UL, 0UL, 0UL, 5UL, 0UL, 0u, 0u, 0u, 0u, 0u, 0u, 0u, 0u));   // mtime: the link's own, at most
        }
        var (e, target) = rig.Call(ReadLink, rig.MustLookup(1, "abs"), []);
        Assert.Equal(0, e);
        Assert.Equal(Secret, Encoding.UTF8.GetString(target));
        AssertSecretUntouched();
    }

    [Fact]
    public void SymlinksTheGuestMakesAreNeverFollowedOnTheHost()
    {
        using var rig = new FuseRig(Share);
        var (error, entry) = rig.Call(Symlink, 1, Bytes("mine", Secret));
        Assert.Equal(0, error);
        ulong mine = NodeId(entry);
        Assert.Equal(Secret, File.ResolveLinkTarget(Path.Combine(Share, "mine"), false)?.FullName);
        Assert.Equal(ELOOP, rig.Call(Open, mine, Bytes(2 | 0x200, 0u)).Error);    // O_RDWR | O_TRUNC
        Assert.Equal(0, rig.Call(Symlink, 1, Bytes("mine2", "../secret.txt")).Error);
        Assert.Equal(0, rig.Call(Symlink, 1, Bytes("passwd", "/etc/passwd")).Error);
        // CREATE over an existing link name (without O_EXCL) would write through it: refused, never followed.
        foreach (string name in new[] { "mine", "mine2", "abs", "rel", "passwd" })
            Assert.Equal(ELOOP, rig.Call(Create, 1, Bytes(2 | 0x200, 0x1A4u, 0u, 0u, name)).Error);
        // A hard link of a link node is another name for the link, not for the secret.
        var (le, linked) = rig.Call(Link, 1, Bytes(mine, "hard"));
        Assert.Equal(0, le);
        Assert.Equal(SIfLnk, EntryMode(linked) & SIfMt);
        Assert.NotNull(new FileInfo(Path.Combine(Share, "hard")).LinkTarget);
        Assert.Equal(ELOOP, rig.Call(Open, NodeId(linked), Bytes(0, 0u)).Error);
        // MKNOD of a device node or a FIFO is refused (only regular files).
        Assert.Equal(EPERM, rig.Call(Mknod, 1, Bytes(0x2000u | 0x1B6u, 0x0103u, 0u, 0u, "null")).Error);
        AssertSecretUntouched();
    }

    [Fact]
    public void RenamesAndLinksCannotNameAPlaceOutsideTheShare()
    {
        using var rig = new FuseRig(Share);
        ulong inside = rig.MustLookup(1, "inside.txt");
        ulong etc = rig.MustLookup(1, "etc");
        ulong up = rig.MustLookup(1, "up");
        Assert.Equal(ENOENT, rig.Call(Rename, 1, Bytes(0UL, "inside.txt", "x")).Error);        // newdir 0
        Assert.Equal(ENOENT, rig.Call(Rename, 1, Bytes(0x7FFFUL, "inside.txt", "x")).Error);   // invented
        Assert.Equal(ENOTDIR, rig.Call(Rename, 1, Bytes(etc, "inside.txt", "passwd")).Error);  // a link to /etc
        Assert.Equal(ENOTDIR, rig.Call(Rename2, 1, Bytes(up, 2u, 0u, "inside.txt", "secret.txt")).Error);   // EXCHANGE via ../..
        Assert.Equal(ENOTDIR, rig.Call(Rename, etc, Bytes(1UL, "passwd", "stolen")).Error);
        Assert.Equal(ENOENT, rig.Call(Link, 1, Bytes(0x7FFFUL, "stolen")).Error);
        Assert.Equal(ENOTDIR, rig.Call(Link, up, Bytes(inside, "secret.txt")).Error);
        Assert.Equal(EINVAL, rig.Call(Rename2, 1, Bytes(1UL, 4u, 0u, "inside.txt", "w")).Error);   // WHITEOUT
        Assert.Equal("inside\n", File.ReadAllText(Path.Combine(Share, "inside.txt")));
        Assert.False(File.Exists(Path.Combine(Share, "stolen")));
        AssertSecretUntouched();
    }

    [Fact]
    public void AFifoInTheShareIsNotOpenedSoItCannotBlockTheDevice()
    {
        HostTool.Run("mkfifo", Path.Combine(Share, "pipe"));
        using var rig = new FuseRig(Share);
        ulong pipe = rig.MustLookup(1, "pipe");
        Assert.Equal(6, rig.Call(Open, pipe, Bytes(0, 0u)).Error);   // ENXIO, at once
        rig.AssertAlive();
    }
}
