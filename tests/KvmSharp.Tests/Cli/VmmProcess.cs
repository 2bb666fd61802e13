using System.Diagnostics;
using System.Text;

namespace KvmSharp.Tests.Cli;

/// <summary>A kvmsharp process left running (a VMM driven through its API): its output is collected as it comes.</summary>
internal sealed class VmmProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();

    public VmmProcess(params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(CliProcess.RepositoryRoot, "kvmsharp"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            WorkingDirectory = CliProcess.RepositoryRoot,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        _process = Process.Start(start)!;
        _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_stdout) _stdout.Append(e.Data).Append('\n'); };
        _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_stderr) _stderr.Append(e.Data).Append('\n'); };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Stdout { get { lock (_stdout) return _stdout.ToString(); } }

    public string Stderr { get { lock (_stderr) return _stderr.ToString(); } }

    public bool HasExited => _process.HasExited;

    /// <summary>The process's pid (the launcher execs the VMM, so it is the VMM's).</summary>
    public int ProcessId => _process.Id;

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until <paramref name="condition"/> holds, failing with the process's output after <paramref name="seconds"/>.</summary>
    public void WaitUntil(Func<bool> condition, string what, int seconds = 300)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(seconds);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
                Assert.Fail($"{what} within {seconds} s; stdout: {Tail(Stdout)} stderr: {Tail(Stderr)}");
            Thread.Sleep(50);
        }
    }

    /// <summary>Waits for the socket file a starting VMM creates (the first start may build the CLI).</summary>
    public void WaitForSocket(string path) =>
        WaitUntil(() => File.Exists(path) || HasExited, $"the API socket {path} did not appear", seconds: 600);

    public bool WaitForExit(TimeSpan timeout) => _process.WaitForExit(timeout);

    /// <summary>As kill -9: the process gets no chance to clean up.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    private static string Tail(string text) => text.Length > 2000 ? "…" + text[^2000..] : text;

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
        _process.Dispose();
    }
}
