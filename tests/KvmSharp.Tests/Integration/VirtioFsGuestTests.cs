using System.Security.Cryptography;
using KvmSharp.Tests.Api;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// virtio-fs in the default guest (Debian's kernel, its virtiofs module) on the software CPU, in one boot through
/// <c>kvmsharp run --fs</c>: mount by tag, read a host file, copy a 4 MiB file both ways, write, rename, chmod,
/// mkdir/rmdir and readdir seen on the host, a read-only share refusing a write, and escapes through symlinks the
/// host or the guest made leading nowhere; and, in a second test, a snapshot restored into a new process with the
/// share mounted. The host checks with its own file APIs, not our code.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VirtioFsGuestTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-virtiofs-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheGuestMountsAShareReadsWritesRenamesAndCannotLeaveIt()
    {
        Assert.NotNull(guest.Guest);
        string share = Path.Combine(_dir, "share"), readOnly = Path.Combine(_dir, "ro"), secret = Path.Combine(_dir, "secret.txt");
        Directory.CreateDirectory(share);
        Directory.CreateDirectory(readOnly);
        File.WriteAllText(Path.Combine(share, "hello.txt"), "hello from the host\n");
        File.WriteAllText(Path.Combine(readOnly, "ro.txt"), "read only\n");
        File.WriteAllText(secret, "MARKER-outside-the-share\n");
        byte[] big = new byte[4 << 20];
        new Random(11).NextBytes(big);
        File.WriteAllBytes(Path.Combine(share, "big.bin"), big);
        File.CreateSymbolicLink(Path.Combine(share, "abs"), secret);
        File.CreateSymbolicLink(Path.Combine(share, "rel"), "../secret.txt");
        File.CreateSymbolicLink(Path.Combine(share, "up"), "../..");

        string script = "mkdir -p /m /r; mount -t virtiofs share /m && mount -t virtiofs ro /r && echo M;"
            + " cat /m/hello.txt; md5sum /m/big.bin | cut -c1-32;"
            + " echo from-guest > /m/g.txt && mv /m/g.txt /m/r.txt && chmod 640 /m/r.txt && stat -c %a /m/r.txt;"
            + " mkdir /m/d && rmdir /m/d && mkdir /m/keep && echo D; cp /m/big.bin /m/copy.bin; ls -a /m | tr '\\n' ' '; echo;"
            + " cat /m/abs /m/rel /m/up/secret.txt /m/up/" + Path.GetFileName(_dir) + "/secret.txt 2>&1 | grep -c MARKER;"
            + $" ln -s {secret} /m/mine && cat /m/mine 2>&1 | grep -c MARKER;"
            + " cat /r/ro.txt; touch /r/x 2>&1 | grep -c Read-only; umount /m && echo U";
        var (code, stdout, stderr) = CliProcess.Run("run", "--accel", "emulate", "--icount", "0", "--exec", script,
            "--fs", $"tag=share,path={share}", "--fs", $"tag=ro,path={readOnly},readonly=on");
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");

        string[] lines = stdout.Split('\n');
        Assert.Equal("M", lines[0]);
        Assert.Equal("hello from the host", lines[1]);
        Assert.Equal(Convert.ToHexStringLower(MD5.HashData(big)), lines[2]);
        Assert.Equal("640", lines[3]);
        Assert.Equal("D", lines[4]);
        Assert.Equal(". .. abs big.bin copy.bin hello.txt keep r.txt rel up", lines[5].Trim());
        Assert.Equal("0", lines[6]);   // no symlink made by the host reached the secret
        Assert.Equal("0", lines[7]);   // nor one the guest made
        Assert.Equal("read only", lines[8]);
        Assert.Equal("1", lines[9]);   // touch on the read-only share: Read-only file system
        Assert.Equal("U", lines[10]);

        // What the guest did, as the host sees it.
        Assert.Equal("from-guest\n", File.ReadAllText(Path.Combine(share, "r.txt")));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, File.GetUnixFileMode(Path.Combine(share, "r.txt")));
        Assert.False(File.Exists(Path.Combine(share, "g.txt")));
        Assert.True(Directory.Exists(Path.Combine(share, "keep")));
        Assert.False(Directory.Exists(Path.Combine(share, "d")));
        Assert.Equal(big, File.ReadAllBytes(Path.Combine(share, "copy.bin")));
        Assert.Equal(secret, new FileInfo(Path.Combine(share, "mine")).LinkTarget);   // only text on the host
        Assert.Equal("MARKER-outside-the-share\n", File.ReadAllText(secret));
        Assert.Equal(new[] { "ro.txt" }, Directory.GetFileSystemEntries(readOnly).Select(Path.GetFileName));
    }

    /// <summary>
    /// A snapshot of a guest holding a share: a file open for writing and a folder it looked up. The process is
    /// killed, the host adds a file in that folder, and a new process restores the snapshot: the guest writes
    /// through its old descriptor and finds the new file (the node table came back from its saved paths).
    /// </summary>
    [Fact]
    public void AnOpenFileAndALookedUpFolderSurviveASnapshotIntoANewProcess()
    {
        Assert.NotNull(guest.Guest);
        string share = Path.Combine(_dir, "share"), socket = Path.Combine(_dir, "a.sock");
        string state = Path.Combine(_dir, "vm.state"), memory = Path.Combine(_dir, "vm.mem");
        Directory.CreateDirectory(Path.Combine(share, "sub"));
        string script = "mkdir -p /m; mount -t virtiofs share /m; exec 4>/m/w.txt; echo one >&4; ls /m/sub > /dev/null;"
            + " echo ready > /m/before.txt; while [ ! -e /m/go ]; do sleep 1; done;"
            + " echo two >&4; cat /m/sub/new.txt > /m/after.txt; umount /m; poweroff -f";
        using (var first = new VmmProcess("run", "--accel", "emulate", "--api-sock", socket, "--fs", $"tag=share,path={share}", "--exec", script))
        {
            first.WaitUntil(() => File.Exists(Path.Combine(share, "before.txt")), "the guest did not mount the share");
            using var api = new ApiClient(socket);
            api.Ok("PATCH", "/vm", """{"state": "Paused"}""");
            api.Ok("PUT", "/snapshot/create", $$"""{"snapshot_type": "Full", "snapshot_path": "{{state}}", "mem_file_path": "{{memory}}"}""");
            first.Kill();
        }
        File.WriteAllText(Path.Combine(share, "sub", "new.txt"), "made while it was down\n");
        File.WriteAllText(Path.Combine(share, "go"), "");
        using var second = new VmmProcess("run", "--restore", state, "--restore-mem", memory, "--console", "none");
        Assert.True(second.WaitForExit(TimeSpan.FromSeconds(300)), "the restored guest did not power off");
        Assert.True(second.ExitCode == 0, $"exit status {second.ExitCode}: {second.Stderr}");
        Assert.Equal("one\ntwo\n", File.ReadAllText(Path.Combine(share, "w.txt")));
        Assert.Equal("made while it was down\n", File.ReadAllText(Path.Combine(share, "after.txt")));
    }
}
