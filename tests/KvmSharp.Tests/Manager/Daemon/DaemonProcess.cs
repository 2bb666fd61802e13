using System.Diagnostics;
using System.Text;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// A real kvmsharpd, started as a user would (<c>./kvmsharp daemon --state-dir … --socket …</c>, which execs the
/// daemon: same pid), in a state directory of the test's own; and the real clients (virsh, python3-libvirt) on its socket.
/// </summary>
internal sealed class DaemonProcess : IDisposable
{
    private readonly StringBuilder _log = new();
    private Process? _process;

    private readonly IReadOnlyList<string> _wrapper;

    /// <param name="wrapper">A command the daemon runs under, which execs it (say <c>ip netns exec NAME</c>).</param>
    public DaemonProcess(string stateDirectory, IReadOnlyList<string>? wrapper = null)
    {
        _wrapper = wrapper ?? [];
        StateDirectory = stateDirectory;
        Socket = Path.Combine(stateDirectory, "libvirt-sock");
        Start();
    }

    /// <summary>Environment the next <see cref="Start"/> adds (say KVMSHARPD_FAULT_POINT); changed between restarts.</summary>
    public Dictionary<string, string> Environment { get; } = [];

    public string StateDirectory { get; }
    public string Socket { get; }
    public string Uri => $"kvmsharp+unix:///system?socket={Socket}";
    public string ReadOnlyUri => $"kvmsharp+unix:///system?socket={Socket}-ro";
    public int Pid => _process!.Id;

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public void Start()
    {
        // A daemon killed with -9 leaves its sockets: wait for the new one's, not those.
        foreach (var stale in (string[])[Socket, Socket + "-ro"])
            if (File.Exists(stale)) File.Delete(stale);
        string launcher = Path.Combine(CliProcess.RepositoryRoot, "kvmsharp");
        var start = new ProcessStartInfo(_wrapper.Count > 0 ? _wrapper[0] : launcher)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            WorkingDirectory = CliProcess.RepositoryRoot,
        };
        foreach (var (name, value) in Environment) start.Environment[name] = value;
        string[] command = ["daemon", "--state-dir", StateDirectory, "--socket", Socket];
        foreach (var a in _wrapper.Count > 0 ? [.. _wrapper.Skip(1), launcher, .. command] : command) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Append(e.Data).Append('\n'); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.Append(e.Data).Append('\n'); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        _process = process;
        // The first start may build both binaries (NativeAOT, minutes on two cores).
        try { Poll.Until(() => File.Exists(Socket + "-ro") || process.HasExited, () => $"the daemon did not listen: {Log}", seconds: 900); }
        catch
        {
            process.Kill();   // a constructor that fails is never disposed: leave no daemon behind
            throw;
        }
        Assert.False(process.HasExited, $"the daemon ended at start: {Log}");
    }

    /// <summary>As kill -9: no clean-up at all. The VMMs it started must not notice.</summary>
    public void Kill()
    {
        _process!.Kill();
        _process.WaitForExit(10_000);
    }

    /// <summary>SIGTERM, as systemctl stop: the daemon ends, its domains do not.</summary>
    public int Terminate()
    {
        Process.Start("kill", ["-TERM", _process!.Id.ToString()])!.WaitForExit();
        Assert.True(_process.WaitForExit(30_000), "the daemon did not end on SIGTERM");
        return _process.ExitCode;
    }

    public (int ExitCode, string Stdout, string Stderr) Virsh(params string[] arguments) => VirshOn(Uri, arguments);

    public static (int ExitCode, string Stdout, string Stderr) VirshOn(string uri, params string[] arguments) =>
        Tool.Run("virsh", ["-c", uri, .. arguments], seconds: 300);

    /// <summary>virsh that must succeed: its output.</summary>
    public string VirshOk(params string[] arguments)
    {
        var (code, stdout, stderr) = Virsh(arguments);
        Assert.True(code == 0, $"virsh {string.Join(' ', arguments)} failed ({code}): {stderr}{stdout}\ndaemon: {Tail(Log)}");
        return stdout;
    }

    public static string Tail(string text) => text.Length > 3000 ? "…" + text[^3000..] : text;

    /// <summary>The pids of the VMMs the daemon recorded as running (its domains' vmm.json files).</summary>
    public IReadOnlyList<int> VmmPids()
    {
        string domains = Path.Combine(StateDirectory, "domains");
        if (!Directory.Exists(domains)) return [];
        return [.. Directory.EnumerateFiles(domains, "vmm.json", SearchOption.AllDirectories)
            .Select(f => System.Text.Json.JsonDocument.Parse(File.ReadAllText(f)).RootElement.GetProperty("pid").GetInt32())];
    }

    public void Dispose()
    {
        if (_process is { HasExited: false }) _process.Kill();
        _process?.WaitForExit(10_000);
        _process?.Dispose();
        // The VMMs outlive the daemon by design; a test leaves none behind.
        foreach (int pid in VmmPids())
        {
            try { using var vmm = Process.GetProcessById(pid); vmm.Kill(); vmm.WaitForExit(10_000); }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception) { }
        }
    }
}

/// <summary>Runs a host program to its end with a time limit, its output collected.</summary>
internal static class Tool
{
    /// <param name="context">More to say when the program does not finish (the daemon's log).</param>
    public static (int ExitCode, string Stdout, string Stderr) Run(string program, IReadOnlyList<string> arguments, int seconds, string? stdin = null,
                                                                   Func<string>? context = null)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        if (stdin is not null) process.StandardInput.Write(stdin);
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(seconds)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', arguments)} did not finish in {seconds} s; output: {stdout.Result}{stderr.Result}{context?.Invoke()}");
        }
        return (process.ExitCode, stdout.Result, stderr.Result);
    }
}
