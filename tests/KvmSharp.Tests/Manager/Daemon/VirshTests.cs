using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// Debian's virsh 9.0, unchanged, on kvmsharpd: definitions, the console, suspend and resume, snapshots; the daemon
/// killed with kill -9 and started again finds its running domain; a VMM killed with kill -9 shows up as crashed;
/// an event watcher (a second client) sees it all; the read-only socket and virsh -r refuse changes; SIGTERM ends
/// the daemon and no VM; an autostart domain starts with the daemon.
/// </summary>
public sealed partial class VirshTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-virsh").FullName;

    [Fact]
    public void VirshManagesADomainThatOutlivesItsDaemon()
    {
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        string disk = Path.Combine(_dir, "disk.raw");
        File.WriteAllBytes(disk, new byte[4 << 20]);
        string xml = Path.Combine(_dir, "guest.xml");
        File.WriteAllText(xml, DefaultGuestDomain.Xml(guest, "vguest", disk));

        Assert.Contains("defined from", daemon.VirshOk("define", xml));
        Assert.Matches(@"-\s+vguest\s+shut off", daemon.VirshOk("list", "--all"));
        string dumped = daemon.VirshOk("dumpxml", "vguest");
        Assert.Matches(@"<uuid>[0-9a-f-]{36}</uuid>", dumped);
        Assert.Matches("<address type=[\"']pci[\"']", dumped);
        Assert.Matches(@"vda\s+" + Regex.Escape(disk), daemon.VirshOk("domblklist", "vguest"));

        // A second client for the whole test: it must see every lifecycle event the first one causes.
        using var events = new BackgroundTool("virsh", "-c", daemon.Uri, "event", "--domain", "vguest", "--event", "lifecycle", "--loop", "--timeout", "900");
        Thread.Sleep(500);

        daemon.VirshOk("start", "vguest");
        Assert.Matches(@"\d+\s+vguest\s+running", daemon.VirshOk("list"));
        using (var console = new VirshConsole(daemon.Uri, "vguest"))
            console.Run("echo virsh-$((6*7))", "virsh-42");

        daemon.VirshOk("suspend", "vguest");
        Assert.Equal("paused", daemon.VirshOk("domstate", "vguest").Trim());
        daemon.VirshOk("resume", "vguest");
        Assert.Equal("running", daemon.VirshOk("domstate", "vguest").Trim());

        // A raw disk's state at the snapshot is a copy beside it; the revert brings it back.
        using (var console = new VirshConsole(daemon.Uri, "vguest"))
            console.Run("echo BEFORESNAP | dd of=/dev/vda conv=fsync 2>/dev/null; echo wrote-$((5*5))", "wrote-25");
        daemon.VirshOk("snapshot-create-as", "vguest", "first", "the first one");
        Assert.Matches(@"first\s+\d{4}-\d\d-\d\d.*running", daemon.VirshOk("snapshot-list", "vguest"));
        Assert.Equal("first", daemon.VirshOk("snapshot-current", "vguest", "--name").Trim());
        using (var console = new VirshConsole(daemon.Uri, "vguest"))
            console.Run("echo AFTERSNAP_ | dd of=/dev/vda conv=fsync 2>/dev/null; echo wrote-$((6*6))", "wrote-36");
        Assert.StartsWith("AFTERSNAP_", DiskHead(disk));
        daemon.VirshOk("snapshot-revert", "vguest", "first");
        Assert.StartsWith("BEFORESNAP", DiskHead(disk));
        Assert.Equal("running", daemon.VirshOk("domstate", "vguest").Trim());

        // Read-only access refuses every change, on the read-only socket and with virsh -r alike.
        var (roCode, _, roError) = DaemonProcess.VirshOn(daemon.ReadOnlyUri, "suspend", "vguest");
        Assert.NotEqual(0, roCode);
        Assert.Contains("read only access", roError);
        Assert.Contains("running", DaemonProcess.VirshOn(daemon.ReadOnlyUri, "domstate", "vguest").Stdout);
        var (rCode, _, rError) = DaemonProcess.VirshOn(daemon.Uri, "-r", "destroy", "vguest");
        Assert.NotEqual(0, rCode);
        Assert.Contains("read only access", rError);

        // kill -9 of the daemon: the VMM runs on; the next daemon finds it, console included.
        string id = Regex.Match(daemon.VirshOk("domid", "vguest"), @"\d+").Value;
        int vmm = Assert.Single(daemon.VmmPids());
        daemon.Kill();
        Assert.False(Process.GetProcessById(vmm).HasExited, "the VMM died with the daemon");
        daemon.Start();
        Assert.Matches($@"{id}\s+vguest\s+running", daemon.VirshOk("list"));
        using (var console = new VirshConsole(daemon.Uri, "vguest"))
            console.Run("echo again-$((7*7))", "again-49");

        // kill -9 of the VMM: the domain is shut off, crashed.
        using var watcher = new BackgroundTool("virsh", "-c", daemon.Uri, "event", "--domain", "vguest", "--event", "lifecycle", "--loop", "--timeout", "900");
        Thread.Sleep(500);
        Process.GetProcessById(vmm).Kill();
        Poll.Until(() => daemon.Virsh("domstate", "vguest", "--reason").Stdout.Contains("shut off (crashed)"),
                   () => $"a killed VMM did not show up as crashed: {daemon.Virsh("domstate", "vguest", "--reason").Stdout}");
        Poll.Until(() => watcher.Output.Contains("Stopped Failed"), () => $"the new watcher saw: {watcher.Output}");

        // SIGTERM (systemctl stop) ends the daemon cleanly; an autostart domain starts with the next one.
        daemon.VirshOk("autostart", "vguest");
        Assert.Equal(0, daemon.Terminate());
        daemon.Start();
        // The daemon listens first and then starts its autostart domains.
        Poll.Until(() => Regex.IsMatch(daemon.Virsh("list").Stdout, @"\d+\s+vguest\s+running"), () => $"vguest was not autostarted: {daemon.Log}");
        int autostarted = Assert.Single(daemon.VmmPids());
        Assert.NotEqual(vmm, autostarted);
        Assert.Equal(0, daemon.Terminate());
        Assert.False(Process.GetProcessById(autostarted).HasExited, "SIGTERM to the daemon ended a running VM");
        daemon.Start();
        Assert.Matches(@"\d+\s+vguest\s+running", daemon.VirshOk("list"));
        daemon.VirshOk("destroy", "vguest");

        daemon.VirshOk("undefine", "vguest", "--snapshots-metadata");
        Assert.DoesNotContain("vguest", daemon.VirshOk("list", "--all"));
        // The first watcher's daemon was killed under it; what it saw before that is the first half of the life.
        Assert.Matches(@"(?s)Started Booted.*Suspended Paused.*Resumed Unpaused", events.Output);
    }

    /// <summary>The disk's first bytes, read by head(1): .NET's own reads take a shared flock, which the VMM's exclusive one refuses.</summary>
    private static string DiskHead(string disk) => Tool.Run("head", ["-c", "10", disk], seconds: 30).Stdout;

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

/// <summary>A host program left running in the background, its output collected; killed on dispose.</summary>
internal sealed class BackgroundTool : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public BackgroundTool(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Append(e.Data).Append('\n'); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_output) _output.Append(e.Data).Append('\n'); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
    }
}

/// <summary>
/// <c>virsh console</c> as a person at a terminal uses it: virsh wants a tty, so it runs under script(1), which gives
/// it a pseudo-terminal; Ctrl-] (0x1d) leaves it.
/// </summary>
internal sealed class VirshConsole : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    public VirshConsole(string uri, string domain)
    {
        var start = new ProcessStartInfo("script") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in (string[])["-qfec", $"virsh -c '{uri}' console {domain} --force", "/dev/null"]) start.ArgumentList.Add(a);
        _process = Process.Start(start)!;
        var reader = new Thread(() =>
        {
            var buffer = new char[1024];
            int n;
            while ((n = _process.StandardOutput.Read(buffer, 0, buffer.Length)) > 0) lock (_output) _output.Append(buffer, 0, n);
        }) { IsBackground = true };
        reader.Start();
    }

    public string Output
    {
        get { lock (_output) return _output.ToString(); }
    }

    /// <summary>Types <paramref name="command"/> until <paramref name="expect"/> appears after it (the guest may still be booting).</summary>
    public void Run(string command, string expect, int seconds = 600)
    {
        int from = Output.Length;
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (DateTime.UtcNow < deadline)
        {
            _process.StandardInput.Write(command + "\r");
            _process.StandardInput.Flush();
            var until = DateTime.UtcNow.AddSeconds(3);
            while (DateTime.UtcNow < until)
            {
                if (Output[from..].Contains(expect)) return;
                Thread.Sleep(50);
            }
        }
        Assert.Fail($"virsh console: no '{expect}' after '{command}'; it showed: {DaemonProcess.Tail(Output)}");
    }

    public void Dispose()
    {
        try
        {
            _process.StandardInput.Write('\x1d');
            _process.StandardInput.Flush();
        }
        catch (IOException) { }
        if (!_process.WaitForExit(5_000)) _process.Kill(entireProcessTree: true);
        _process.Dispose();
    }
}
