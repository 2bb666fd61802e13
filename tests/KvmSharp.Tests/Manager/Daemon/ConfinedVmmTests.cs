using System.Text.RegularExpressions;
using KvmSharp.Manager.Confinement;
using KvmSharp.Native.Libc;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// A root kvmsharpd confines every VMM it starts (issue 15), checked from outside as the issue asks: the VMM's
/// /proc/PID/status shows the kvmsharp user, /proc/PID/cgroup the VM's cgroup whose files hold the limits of
/// &lt;memtune&gt; and &lt;cputune&gt;, /proc/PID/ns/mnt a mount namespace other than the daemon's with /var/tmp hidden;
/// the guest boots and writes its disk; after destroy the disk has its owner back and the cgroup is gone; bad
/// limits are refused in libvirt's words. One boot for all of it.
/// </summary>
public sealed partial class ConfinedVmmTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private const string Tuning = """
        <memtune>
            <hard_limit unit='MiB'>2048</hard_limit>
            <soft_limit unit='MiB'>1536</soft_limit>
            <swap_hard_limit unit='GiB'>3</swap_hard_limit>
          </memtune>
          <vcpu>1</vcpu>
          <cputune>
            <shares>512</shares>
            <period>100000</period>
            <quota>200000</quota>
          </cputune>
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-confined").FullName;
    private readonly string _marker = $"/var/tmp/kvmsharp-confined-{Guid.NewGuid():N}";

    [Fact]
    public void ARootDaemonRunsEachVmmAsTheVmmUserInItsOwnCgroupAndMountNamespace()
    {
        Assert.SkipUnless(FileOwner.EffectiveUserId == 0, "the daemon confines its VMMs only when it runs as root");
        var host = CgroupHost.Detect();
        Assert.SkipUnless(host.Version != CgroupVersion.None, "this host has no memory and cpu cgroup controllers");
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        string disk = Path.Combine(_dir, "disk.raw");
        File.WriteAllBytes(disk, new byte[4 << 20]);
        File.WriteAllText(_marker, "the host's");

        // Bad limits: refused at define, in libvirt's words.
        Refused(daemon, "memory hard_limit tunable value must be lower than or equal to swap_hard_limit",
            "<memtune><hard_limit unit='GiB'>4</hard_limit><swap_hard_limit unit='GiB'>3</swap_hard_limit></memtune><vcpu>1</vcpu>");
        Refused(daemon, "Value of cputune 'period' must be in range [1000, 1000000]", "<vcpu>1</vcpu><cputune><period>10</period></cputune>");
        Refused(daemon, "Value of cputune 'quota' must be in range [1000, 17592186044415]", "<vcpu>1</vcpu><cputune><quota>5</quota></cputune>");
        Refused(daemon, "must be a whole number", "<memtune><hard_limit>lots</hard_limit></memtune><vcpu>1</vcpu>");

        string xml = Path.Combine(_dir, "confined.xml");
        File.WriteAllText(xml, DefaultGuestDomain.Xml(guest, "confined", disk).Replace("<vcpu>1</vcpu>", Tuning, StringComparison.Ordinal));
        daemon.VirshOk("define", xml);
        string dumped = daemon.VirshOk("dumpxml", "confined");
        Assert.Matches(@"<hard_limit unit=.KiB.>2097152</hard_limit>", dumped);
        Assert.Matches(@"<swap_hard_limit unit=.KiB.>3145728</swap_hard_limit>", dumped);
        Assert.Matches(@"<cputune>\s*<shares>512</shares>\s*<period>100000</period>\s*<quota>200000</quota>\s*</cputune>", dumped);
        string uuid = Regex.Match(dumped, "<uuid>([0-9a-f-]{36})</uuid>").Groups[1].Value;

        daemon.VirshOk("start", "confined");
        int vmm = Assert.Single(daemon.VmmPids());

        // The user: not root, the kvmsharp user (real, effective, saved and file system ids alike); no new privileges.
        uint vmmUid = uint.Parse(Tool.Run("id", ["-u", VmmUser.DefaultName], seconds: 30).Stdout.Trim());
        Assert.NotEqual(0u, vmmUid);
        string status = File.ReadAllText($"/proc/{vmm}/status");
        Assert.Matches($@"(?m)^Uid:\s+{vmmUid}\s+{vmmUid}\s+{vmmUid}\s+{vmmUid}$", status);
        Assert.Matches(@"(?m)^NoNewPrivs:\s+1$", status);
        Assert.Equal(vmmUid, FileOwnership.Of(disk)!.Value.Uid);

        // The cgroup, with the limits.
        string leaf = $"/{VmmCgroup.Slice}/confined-{uuid}";
        string cgroups = File.ReadAllText($"/proc/{vmm}/cgroup");
        if (host.Version == CgroupVersion.V2)
        {
            Assert.Contains($"0::{leaf}\n", cgroups);
            string dir = host.UnifiedRoot + leaf;
            Assert.Equal("2147483648", Read(dir, "memory.max"));
            Assert.Equal("1610612736", Read(dir, "memory.high"));
            Assert.Equal("1073741824", Read(dir, "memory.swap.max"));
            Assert.Equal("512", Read(dir, "cpu.weight"));
            Assert.Equal("200000 100000", Read(dir, "cpu.max"));
        }
        else
        {
            Assert.Matches($@"(?m)^\d+:memory:{Regex.Escape(leaf)}$", cgroups);
            Assert.Matches($@"(?m)^\d+:([a-z,]*,)?cpu(,[a-z,]*)?:{Regex.Escape(leaf)}$", cgroups);
            string memory = host.V1Roots["memory"] + leaf, cpu = host.V1Roots["cpu"] + leaf;
            Assert.Equal("2147483648", Read(memory, "memory.limit_in_bytes"));
            Assert.Equal("1610612736", Read(memory, "memory.soft_limit_in_bytes"));
            Assert.Equal("3221225472", Read(memory, "memory.memsw.limit_in_bytes"));
            Assert.Equal("512", Read(cpu, "cpu.shares"));
            Assert.Equal("100000", Read(cpu, "cpu.cfs_period_us"));
            Assert.Equal("200000", Read(cpu, "cpu.cfs_quota_us"));
        }

        // Its own mount namespace, in which /var/tmp is an empty tmpfs.
        Assert.NotEqual(new FileInfo($"/proc/{daemon.Pid}/ns/mnt").LinkTarget, new FileInfo($"/proc/{vmm}/ns/mnt").LinkTarget);
        Assert.True(File.Exists(_marker));
        Assert.False(File.Exists($"/proc/{vmm}/root{_marker}"), "the VMM sees the host's /var/tmp");
        Assert.Contains(" /var/tmp tmpfs ", File.ReadAllText($"/proc/{vmm}/mounts"));

        // The guest boots and its disk works.
        using (var console = new VirshConsole(daemon.Uri, "confined"))
            console.Run("echo CONFINED_ | dd of=/dev/vda conv=fsync 2>/dev/null; echo wrote-$((4*4))", "wrote-16");
        Assert.StartsWith("CONFINED_", Tool.Run("head", ["-c", "9", disk], seconds: 30).Stdout);

        // dominfo reads the cgroup's CPU time; memtune, schedinfo and domstats report the limits and the usage.
        Assert.Matches(@"CPU time:\s+[1-9]", daemon.VirshOk("dominfo", "confined"));
        string memtune = daemon.VirshOk("memtune", "confined");
        Assert.Matches(@"hard_limit\s*:\s*2097152\b", memtune);
        Assert.Matches(@"soft_limit\s*:\s*1572864\b", memtune);
        Assert.Matches(@"swap_hard_limit\s*:\s*3145728\b", memtune);
        string schedinfo = daemon.VirshOk("schedinfo", "confined");
        Assert.Matches(@"Scheduler\s*:\s*posix", schedinfo);
        Assert.Matches(@"cpu_shares\s*:\s*512\b", schedinfo);
        Assert.Matches(@"vcpu_quota\s*:\s*200000\b", schedinfo);
        string domstats = daemon.VirshOk("domstats", "confined");
        Assert.Matches(@"state\.state=1\b", domstats);
        Assert.Matches(@"cpu\.time=[1-9]\d*", domstats);
        Assert.Matches(@"balloon\.maximum=262144\b", domstats);
        Assert.Matches(@"balloon\.rss=[1-9]\d*", domstats);
        Assert.Matches(@"state\.state=1\b", daemon.VirshOk("domstats", "--state"));

        daemon.VirshOk("destroy", "confined");
        Assert.Equal(0u, FileOwnership.Of(disk)!.Value.Uid);
        Assert.Equal(0u, FileOwnership.Of(Path.Combine(_dir, "state", "domains", "confined", "run"))!.Value.Uid);
        Assert.All(VmmCgroup.For(host, "confined", Guid.Parse(uuid)).Directories, d => Assert.False(Directory.Exists(d), $"{d} is still there"));
        daemon.VirshOk("undefine", "confined");
    }

    private void Refused(DaemonProcess daemon, string words, string tuning)
    {
        string xml = Path.Combine(_dir, "bad.xml");
        File.WriteAllText(xml, DefaultGuestDomain.Xml(guest, "bad", Path.Combine(_dir, "disk.raw")).Replace("<vcpu>1</vcpu>", tuning, StringComparison.Ordinal));
        var (code, stdout, stderr) = daemon.Virsh("define", xml);
        Assert.NotEqual(0, code);
        Assert.Contains(words, stderr + stdout);
    }

    private static string Read(string directory, string file) => File.ReadAllText(Path.Combine(directory, file)).Trim();

    public void Dispose()
    {
        if (File.Exists(_marker)) File.Delete(_marker);
        Directory.Delete(_dir, recursive: true);
    }
}
