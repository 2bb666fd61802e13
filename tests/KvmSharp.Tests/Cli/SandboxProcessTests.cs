using KvmSharp.Machine.Sandbox;

namespace KvmSharp.Tests.Cli;

/// <summary>
/// The VMM's confinement seen from outside, on the built-in demo guest (no download, starts at once): a running VMM's
/// /proc/PID/status shows the seccomp filter and no_new_privs, a refused system call ends only that VMM with one line
/// naming the call, Landlock keeps it from host files outside its set while its own files still open, and
/// `--sandbox off` / `--seccomp log` do what they say. (The guests of the other Cli, Api, Machine and Integration
/// tests run confined too: the sandbox is on by default.)
/// </summary>
public sealed class SandboxProcessTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-sandbox").FullName;

    [Fact]
    public void AStartedVmmRunsUnderASeccompFilterWithNoNewPrivs()
    {
        using var vmm = new VmmProcess("run", "--kernel", "demo", "--paused", "--api-sock", Path.Combine(_dir, "api.sock"));
        var status = WaitForConfinedStatus(vmm);
        Assert.Equal("2", status["Seccomp"]);
        Assert.Equal("1", status["NoNewPrivs"]);
        Assert.Equal("1", status["Seccomp_filters"]);
    }

    [Fact]
    public void SandboxOffLeavesTheVmmUnconfined()
    {
        using var vmm = new VmmProcess("run", "--kernel", "demo", "--paused", "--sandbox", "off", "--api-sock", Path.Combine(_dir, "api.sock"));
        vmm.WaitForSocket(Path.Combine(_dir, "api.sock"));
        Thread.Sleep(300);
        var status = ProcStatus(VmmPid(vmm));
        Assert.Equal("0", status["Seccomp"]);
        Assert.Equal("0", status["NoNewPrivs"]);
    }

    [Fact]
    public void TheDemoGuestRunsToItsPowerOffConfined()
    {
        var (exit, stdout, stderr) = CliProcess.Run("run", "--kernel", "demo");
        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        Assert.Contains("Powering off through ACPI", stdout);
    }

    [Theory]
    [InlineData("ptrace", "ptrace (101)")]
    [InlineData("socket-packet", "socket (41)")]
    public void ARefusedSystemCallEndsTheVmmWithOneLineNamingIt(string call, string named)
    {
        var (exit, _, stderr) = CliProcess.RunUnder(["env", $"{SandboxTestHook.Variable}={call}"], "run", "--kernel", "demo");
        Assert.Equal(SigsysReporter.ExitStatus, exit);
        string line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.Contains("sandbox", StringComparison.Ordinal));
        Assert.StartsWith("kvmsharp: the sandbox stopped the VMM: it made system call " + named, line);
        Assert.DoesNotContain("was allowed", stderr);
    }

    [Fact]
    public void SeccompLogLetsARefusedCallThrough()
    {
        var (exit, stdout, stderr) = CliProcess.RunUnder(["env", $"{SandboxTestHook.Variable}=socket-packet"], "run", "--kernel", "demo", "--seccomp", "log");
        Assert.True(exit == 0, $"exit {exit}: {stderr}");
        Assert.Contains("socket-packet was allowed", stderr);
        Assert.Contains("Powering off through ACPI", stdout);
    }

    [Fact]
    public void LandlockKeepsTheVmmFromHostFilesOutsideItsOwn()
    {
        string outside = Path.Combine(Directory.CreateDirectory(Path.Combine(_dir, "elsewhere")).FullName, "secret");
        File.WriteAllText(outside, "not the guest's");
        string disk = Path.Combine(Directory.CreateDirectory(Path.Combine(_dir, "vm")).FullName, "disk.raw");
        File.WriteAllBytes(disk, new byte[1 << 20]);

        var (_, _, denied) = CliProcess.RunUnder(["env", $"{SandboxTestHook.Variable}=open:{outside}"], "run", "--kernel", "demo", "--disk", disk);
        Assert.Contains($"sandbox test: open {outside}: Permission denied", denied);
        var (_, _, hostFile) = CliProcess.RunUnder(["env", $"{SandboxTestHook.Variable}=open:/etc/passwd"], "run", "--kernel", "demo", "--disk", disk);
        Assert.Contains("sandbox test: open /etc/passwd: Permission denied", hostFile);
        var (exit, _, own) = CliProcess.RunUnder(["env", $"{SandboxTestHook.Variable}=open:{disk}"], "run", "--kernel", "demo", "--disk", disk);
        Assert.Contains($"sandbox test: open {disk}: opened", own);
        Assert.Equal(0, exit);
        var (_, _, unconfined) = CliProcess.RunUnder(["env", $"{SandboxTestHook.Variable}=open:{outside}"], "run", "--kernel", "demo", "--sandbox", "off");
        Assert.DoesNotContain("sandbox test", unconfined);   // the hook only runs inside a sandbox
    }

    /// <summary>The VMM's pid: the launcher execs the binary, so it is the started process's own.</summary>
    private static int VmmPid(VmmProcess vmm) => vmm.ProcessId;

    private static Dictionary<string, string> WaitForConfinedStatus(VmmProcess vmm)
    {
        Dictionary<string, string> status = [];
        vmm.WaitUntil(() => !vmm.HasExited && (status = ProcStatus(VmmPid(vmm))).GetValueOrDefault("Seccomp") == "2", "the VMM did not confine itself", seconds: 600);
        return status;
    }

    private static Dictionary<string, string> ProcStatus(int pid)
    {
        var fields = new Dictionary<string, string>();
        try
        {
            foreach (string line in File.ReadAllLines($"/proc/{pid}/status"))
                if (line.Split(':', 2) is [var key, var value]) fields[key] = value.Trim();
        }
        catch (IOException)
        {
        }
        return fields;
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
