using System.Diagnostics;
using KvmSharp.Manager.Confinement;
using KvmSharp.Manager.Vmm;
using KvmSharp.Native.Libc;
using Microsoft.Extensions.Logging.Abstractions;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// The confinement's parts without a guest: the launch steps (a shell script in place of the VMM reports who, where
/// and in which namespace it runs) and the files lent to the VMM user and given back.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VmmConfinementTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-confine").FullName;

    [Fact]
    public void TheLaunchStepsPlaceTheProcessInItsCgroupAndNamespaceAsTheVmmUserWithOnePid()
    {
        Assert.SkipUnless(FileOwner.EffectiveUserId == 0, "needs root");
        var host = CgroupHost.Detect();
        Assert.SkipUnless(host.Version != CgroupVersion.None, "no memory and cpu cgroup controllers");
        var user = VmmUser.ForDaemon(NullLogger.Instance)!;
        var cgroup = VmmCgroup.For(host, "launch-test", Guid.NewGuid());
        cgroup.Create(null, null, 1);
        try
        {
            string program = Path.Combine(_dir, "report.sh");
            File.WriteAllText(program, "#!/bin/sh\necho \"pid=$$ sid=$(cut -d' ' -f6 /proc/$$/stat) args=$*\"\ngrep -E '^(Uid|NoNewPrivs):' /proc/$$/status\ncat /proc/$$/cgroup\nreadlink /proc/$$/ns/mnt\nls -A /var/tmp | wc -l\necho HOME=$HOME\n");
            File.SetUnixFileMode(program, (UnixFileMode)0b111_101_101);
            VmmFileAccess.Grant(user, [new VmmFile(program, false)], Path.Combine(_dir, "owners.json"), NullLogger.Instance);   // through the 0700 temp folder
            string log = Path.Combine(_dir, "vmm.log");
            var hidden = VmmConfinement.FoldersToHide([program, log]);
            Assert.Contains("/var/tmp", hidden);
            Assert.DoesNotContain("/tmp", hidden);   // the program lies there
            using var process = VmmProcess.Start(program, ["one", "two words"], log, new VmmConfinement(user, cgroup.ProcsFiles, true, hidden));
            Assert.True(process.Exited.Wait(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken), "the script did not end");
            Assert.Equal(0, process.Exited.Result);
            string report = File.ReadAllText(log);
            Assert.Contains($"pid={process.Pid} sid={process.Pid} args=one two words", report);   // exec all the way: one pid, its own session
            Assert.Matches($@"(?m)^Uid:\s+{user.Uid}\s+{user.Uid}\s+{user.Uid}\s+{user.Uid}$", report);
            Assert.Matches(@"(?m)^NoNewPrivs:\s+1$", report);
            Assert.Contains(cgroup.RelativePath + "\n", report);
            Assert.DoesNotContain(new FileInfo("/proc/self/ns/mnt").LinkTarget!, report);
            Assert.Matches(@"(?m)^0$", report);   // /var/tmp is empty in there
            Assert.Contains("HOME=/\n", report);
        }
        finally
        {
            Assert.True(cgroup.Remove(), "the cgroup could not be removed");
        }
        Assert.All(cgroup.Directories, d => Assert.False(Directory.Exists(d)));
    }

    [Fact]
    public void FilesAreLentToTheVmmUserAndGivenBack()
    {
        Assert.SkipUnless(FileOwner.EffectiveUserId == 0, "needs root");
        var user = VmmUser.ForDaemon(NullLogger.Instance)!;
        string closed = Path.Combine(_dir, "closed");
        Directory.CreateDirectory(closed);
        File.SetUnixFileMode(closed, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);   // 0700, as .NET's temp folders
        string disk = Path.Combine(closed, "disk.raw"), secret = Path.Combine(closed, "kernel"), open = Path.Combine(closed, "initrd");
        foreach (string f in (string[])[disk, secret, open]) File.WriteAllText(f, "x");
        File.SetUnixFileMode(secret, UnixFileMode.UserRead | UnixFileMode.UserWrite);   // 0600: the user could not read it
        File.SetUnixFileMode(open, (UnixFileMode)0b110_100_100);                        // 0644: it can
        string record = Path.Combine(_dir, "owners.json");

        VmmFileAccess.Grant(user, [new VmmFile(disk, true), new VmmFile(secret, false), new VmmFile(open, false)], record, NullLogger.Instance);
        Assert.Equal(user.Uid, FileOwnership.Of(disk)!.Value.Uid);
        Assert.Equal(user.Uid, FileOwnership.Of(secret)!.Value.Uid);
        Assert.Equal(0u, FileOwnership.Of(open)!.Value.Uid);
        Assert.True(File.Exists(record));
        Assert.Contains($"user:{user.Name}:--x", Run("getfacl", "-p", closed));
        // The proof: the user itself reads the closed folder's files (su -s: its shell is nologin).
        Assert.Equal("x", Run("setpriv", $"--reuid={user.Uid}", $"--regid={user.Gid}", "--init-groups", "cat", secret));

        VmmFileAccess.Restore(record, NullLogger.Instance);
        Assert.Equal(0u, FileOwnership.Of(disk)!.Value.Uid);
        Assert.Equal(0u, FileOwnership.Of(secret)!.Value.Uid);
        Assert.False(File.Exists(record));
    }

    private static string Run(string program, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var p = Process.Start(start)!;
        string output = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        return output;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
