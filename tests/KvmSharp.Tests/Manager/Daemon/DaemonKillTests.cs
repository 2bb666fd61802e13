using System.Text.RegularExpressions;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// kill -9 of kvmsharpd in the middle of define/undefine, start and snapshot-create, then a restart: the domain list,
/// the definitions, the running VMMs (found again, none orphaned, none doubled) and the snapshots (complete or absent,
/// also inside the qcow2 image as qemu-img lists it) must be consistent. The daemon is stopped at named points with
/// its KVMSHARPD_FAULT_POINT hook, so each kill lands exactly between two steps; defines are killed at random moments.
/// </summary>
public sealed class DaemonKillTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-kill").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void KillNineDuringStartAndSnapshotLeavesAConsistentStateAfterRestart()
    {
        string disk = Path.Combine(_dir, "disk.qcow2");
        Tool.Run("qemu-img", ["create", "-q", "-f", "qcow2", disk, "64M"], seconds: 60);
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        string xml = Path.Combine(_dir, "k1.xml");
        File.WriteAllText(xml, DefaultGuestDomain.Xml(guest, "k1", disk, "qcow2"));
        daemon.VirshOk("define", xml);
        string apiSocket = Path.Combine(daemon.StateDirectory, "domains", "k1", "run", "api.sock");

        // Killed after the VMM was spawned, before it answered: the restarted daemon ends it (the start never finished).
        int spawned = KillAt(daemon, "start.spawned", "start", "k1");
        Assert.Equal("shut off", daemon.VirshOk("domstate", "k1").Trim());
        Poll.Until(() => !Alive(spawned), () => $"VMM {spawned} of the interrupted start still runs: an orphan", seconds: 30);
        Assert.Empty(VmmsServing(apiSocket));

        // Killed after the start was recorded, before virsh heard: the VMM is found again, one of it.
        int started = KillAt(daemon, "start.recorded", "start", "k1");
        Assert.Equal("running", daemon.VirshOk("domstate", "k1").Trim());
        Assert.Equal([started], VmmsServing(apiSocket));

        // Killed with the machine paused for the snapshot, and again with its state and the disk's internal snapshot
        // taken: both half-made snapshots are taken back and the machine runs again.
        foreach (var (point, name) in ((string, string)[])[("snapshot.paused", "half1"), ("snapshot.taken", "half2")])
        {
            KillAt(daemon, point, "snapshot-create-as", "k1", name);
            Assert.Equal("running", daemon.VirshOk("domstate", "k1").Trim());
            Assert.DoesNotContain(name, daemon.VirshOk("snapshot-list", "k1", "--name"));
            Assert.DoesNotContain(name, InternalSnapshots(disk));
            Assert.False(Directory.Exists(Path.Combine(daemon.StateDirectory, "domains", "k1", "snapshots", $".{name}.partial")), $"{name}: its directory is left");
        }

        // Killed after the snapshot was moved into place, before it was marked current: complete, and current.
        KillAt(daemon, "snapshot.moved", "snapshot-create-as", "k1", "whole");
        Assert.Equal("whole", daemon.VirshOk("snapshot-list", "k1", "--name").Trim());
        Assert.Equal("whole", daemon.VirshOk("snapshot-current", "k1", "--name").Trim());
        Assert.Contains("whole", InternalSnapshots(disk));
        Assert.Equal([started], VmmsServing(apiSocket));

        // Still fully usable: another snapshot, then the end of the run; the image checks clean.
        daemon.VirshOk("snapshot-create-as", "k1", "after");
        daemon.VirshOk("destroy", "k1");
        Assert.Empty(VmmsServing(apiSocket));
        var (code, stdout, stderr) = Tool.Run("qemu-img", ["check", disk], seconds: 60);
        Assert.True(code == 0, $"qemu-img check exited {code}: {stdout}{stderr}");
        Assert.Equal(["after", "whole"], InternalSnapshots(disk).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void KillNineAtRandomMomentsDuringDefinesLosesNoDefinition()
    {
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        var random = new Random(15);
        var expected = new HashSet<string>(StringComparer.Ordinal);
        int serial = 0;
        for (int round = 0; round < 4; round++)
        {
            if (round > 0) daemon.Start();
            string? inFlight = null;
            using var stop = new CancellationTokenSource();
            var worker = Task.Run(() =>
            {
                while (!stop.IsCancellationRequested)
                {
                    string name = $"r{serial++}";
                    string file = Path.Combine(_dir, name + ".xml");
                    File.WriteAllText(file, DefaultGuestDomain.Xml(guest, name, Path.Combine(_dir, "none.raw")));
                    inFlight = name;
                    if (daemon.Virsh("define", file).ExitCode != 0) return;
                    lock (expected) expected.Add(name);
                    // Every other define undefines an earlier one: a kill may also land inside an undefine.
                    string? older = null;
                    lock (expected) if (serial % 2 == 0) older = expected.Order(StringComparer.Ordinal).First();
                    if (older is null) continue;
                    inFlight = older;
                    if (daemon.Virsh("undefine", older).ExitCode != 0) return;
                    lock (expected) expected.Remove(older);
                }
            }, TestContext.Current.CancellationToken);
            Thread.Sleep(random.Next(300, 1500));
            daemon.Kill();
            Assert.True(worker.Wait(TimeSpan.FromSeconds(120), TestContext.Current.CancellationToken), "virsh did not end after the daemon was killed");
            stop.Cancel();

            daemon.Start();
            var listed = daemon.VirshOk("list", "--all", "--name").Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet();
            var missing = expected.Where(n => n != inFlight && !listed.Contains(n)).ToList();
            var extra = listed.Where(n => n != inFlight && !expected.Contains(n)).ToList();
            Assert.True(missing.Count == 0 && extra.Count == 0, $"round {round}: lost {string.Join(',', missing)}; came back {string.Join(',', extra)}");
            // Whatever the kill interrupted is now wholly there or wholly gone, and what is there reads back.
            lock (expected)
            {
                if (inFlight is not null && listed.Contains(inFlight)) expected.Add(inFlight);
                else if (inFlight is not null) expected.Remove(inFlight);
            }
            foreach (var name in listed) Assert.Contains($"<name>{name}</name>", daemon.VirshOk("dumpxml", name));
            var domains = Path.Combine(daemon.StateDirectory, "domains");
            var dirs = Directory.EnumerateDirectories(domains).Select(Path.GetFileName).ToHashSet();
            Assert.True(dirs.SetEquals(listed), $"round {round}: directories {string.Join(',', dirs)} against domains {string.Join(',', listed)}");
            Assert.Empty(Directory.EnumerateFiles(domains, "*.tmp-*", SearchOption.AllDirectories));
            daemon.Kill();
        }
    }

    /// <summary>Starts the daemon stopped at <paramref name="point"/>, runs virsh until the daemon is there, kills it and starts it plainly; the VMM pid the domain's record names at the kill (0: none).</summary>
    private static int KillAt(DaemonProcess daemon, string point, params string[] virsh)
    {
        daemon.Kill();
        daemon.Environment["KVMSHARPD_FAULT_POINT"] = point;
        daemon.Start();
        var call = Task.Run(() => daemon.Virsh(virsh));
        Poll.Until(() => daemon.Log.Contains($"fault point {point} reached") || call.IsCompleted,
                   () => $"the daemon did not reach {point}: {DaemonProcess.Tail(daemon.Log)}", seconds: 300);
        if (call.IsCompleted)
            Assert.Fail($"virsh {string.Join(' ', virsh)} ended before {point} ({(call.IsFaulted ? call.Exception!.InnerException!.Message : call.Result.ToString())}); daemon: {DaemonProcess.Tail(daemon.Log)}");
        int pid = daemon.VmmPids().SingleOrDefault();
        daemon.Kill();
        var (code, _, _) = call.Result;
        Assert.NotEqual(0, code);
        daemon.Environment.Remove("KVMSHARPD_FAULT_POINT");
        daemon.Start();
        return pid;
    }

    /// <summary>The pids of processes that serve <paramref name="apiSocket"/> (every VMM of this domain, known to the daemon or not).</summary>
    private static List<int> VmmsServing(string apiSocket)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid) || !Alive(pid)) continue;
            string cmdline;
            try { cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")); }
            catch (IOException) { continue; }
            catch (UnauthorizedAccessException) { continue; }
            var words = cmdline.Split('\0');
            if (words.Contains("run") && words.Contains(apiSocket)) pids.Add(pid);
        }
        return pids;
    }

    /// <summary>Running and not a zombie (a reparented VMM is reaped by whoever adopted it, maybe later).</summary>
    private static bool Alive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (IOException) { return false; }
    }

    /// <summary>qemu-img's list of the image's internal snapshots (-U: our VMM may have it open).</summary>
    private static List<string> InternalSnapshots(string image)
    {
        var (code, stdout, stderr) = Tool.Run("qemu-img", ["snapshot", "-U", "-l", image], seconds: 60);
        Assert.True(code == 0, $"qemu-img snapshot -l: {stderr}");
        return [.. stdout.Split('\n').Skip(2).Select(l => Regex.Split(l.Trim(), @"\s+")).Where(w => w.Length > 1).Select(w => w[1])];
    }
}
