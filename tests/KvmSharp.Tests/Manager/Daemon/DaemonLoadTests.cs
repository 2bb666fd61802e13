using System.Globalization;
using System.Security;
using System.Text.RegularExpressions;
using KvmSharp.Machine.Images;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// Load on one kvmsharpd through python-libvirt: small domains started (paused: idle machines) and destroyed round
/// after round with the daemon's fds, threads and RSS bounded after the first round; and a hundred clients at once,
/// a quarter of them hostile, with every good one answered correctly and the fds back where they were. The short
/// forms run in CI; KVMSHARP_LONG_TESTS=1 runs 50 domains x 20 rounds.
/// </summary>
public sealed class DaemonLoadTests(DebianKernelFixture guest, ITestOutputHelper output) : IClassFixture<DebianKernelFixture>, IDisposable
{
    // After the first round (warm-up: thread pool, JIT-free AOT code's first allocations) nothing may grow beyond these.
    private const int FdSlack = 2, ThreadSlack = 4, RssSlackKib = 48 * 1024;
    private static readonly bool Long = Environment.GetEnvironmentVariable("KVMSHARP_LONG_TESTS") == "1";
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-load").FullName;
    private static string Script => Path.Combine(CliProcess.RepositoryRoot, "tests", "KvmSharp.Tests", "Manager", "Daemon", "daemon_load.py");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void StartingAndDestroyingDomainsRoundAfterRoundDoesNotGrowTheDaemon()
    {
        int vms = Long ? 50 : 5, rounds = Long ? 20 : 4;
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        string template = Path.Combine(_dir, "small.xml");
        File.WriteAllText(template, SmallDomainXml());

        var (code, stdout, stderr) = Tool.Run("/usr/bin/python3", [Script, "cycles", daemon.Uri, daemon.Pid.ToString(CultureInfo.InvariantCulture), template,
            vms.ToString(CultureInfo.InvariantCulture), rounds.ToString(CultureInfo.InvariantCulture)], seconds: Long ? 3600 : 600,
            context: () => DaemonProcess.Tail(daemon.Log));
        output.WriteLine($"{vms} domains x {rounds} rounds:\n{stdout}");
        Assert.True(code == 0 && stdout.Contains("CYCLES OK"), $"the cycles failed ({code}):\n{stdout}\n{stderr}\ndaemon: {DaemonProcess.Tail(daemon.Log)}");

        var series = Regex.Matches(stdout, @"^round (\d+) fds=(\d+) threads=(\d+) rss_kib=(\d+)$", RegexOptions.Multiline)
            .Select(m => (Round: Int(m, 1), Fds: Int(m, 2), Threads: Int(m, 3), Rss: Int(m, 4))).ToList();
        Assert.Equal(rounds + 1, series.Count);
        var warm = series[1];
        foreach (var r in series.Skip(2))
        {
            Assert.True(r.Fds <= warm.Fds + FdSlack, $"round {r.Round}: {r.Fds} fds against {warm.Fds} after round 1");
            Assert.True(r.Threads <= warm.Threads + ThreadSlack, $"round {r.Round}: {r.Threads} threads against {warm.Threads} after round 1");
            Assert.True(r.Rss <= warm.Rss + RssSlackKib, $"round {r.Round}: RSS {r.Rss} KiB against {warm.Rss} KiB after round 1");
        }
        Assert.Empty(daemon.VmmPids());
    }

    [Fact]
    public void AHundredClientsAtOnceAreAllAnsweredAndLeaveNoFdsBehind()
    {
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        for (int i = 0; i < 3; i++)
        {
            string xml = Path.Combine(_dir, $"c{i}.xml");
            File.WriteAllText(xml, SmallDomainXml().Replace("NAME", $"c{i}", StringComparison.Ordinal));
            daemon.VirshOk("define", xml);
        }
        var (code, stdout, stderr) = Tool.Run("/usr/bin/python3", [Script, "clients", daemon.Uri, daemon.Socket,
            daemon.Pid.ToString(CultureInfo.InvariantCulture), "100"], seconds: 600, context: () => DaemonProcess.Tail(daemon.Log));
        output.WriteLine(stdout);
        Assert.True(code == 0 && stdout.Contains("CLIENTS OK good=75 hostile=25"), $"the clients failed ({code}):\n{stdout}\n{stderr}\ndaemon: {DaemonProcess.Tail(daemon.Log)}");
        int before = Fds(stdout, "before"), after = Fds(stdout, "after");
        Assert.True(after <= before, $"the daemon holds {after} fds after the clients left, {before} before");
        // Still serving, and still the same daemon.
        Assert.Contains("c0", daemon.VirshOk("list", "--all", "--name"));
    }

    private static int Int(Match m, int group) => int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    private static int Fds(string stdout, string when) => Int(Regex.Match(stdout, $@"^{when} fds=(\d+)", RegexOptions.Multiline), 1);

    /// <summary>The default guest's kernel and initramfs, no disk (so that many can start at once), 128 MiB; NAME is replaced.</summary>
    private string SmallDomainXml() => $"""
        <domain type='qemu'>
          <name>NAME</name>
          <memory unit='MiB'>128</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64'>hvm</type>
            <kernel>{SecurityElement.Escape(guest.Guest.KernelPath)}</kernel>
            <initrd>{SecurityElement.Escape(guest.Guest.InitrdPath)}</initrd>
            <cmdline>{SecurityElement.Escape(DefaultGuestCommandLine.Shell())}</cmdline>
          </os>
          <devices>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
          </devices>
        </domain>
        """;
}
