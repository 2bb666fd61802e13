using System.Diagnostics;
using System.Text;
using KvmSharp.Tests.Api;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Machine.Migration;

/// <summary>Two <c>kvmsharp run</c> processes: PUT /migrate on the first moves its machine into the second, which waits with --incoming.</summary>
public sealed class MigrationCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-migrate-cli").FullName;
    private readonly List<Process> _processes = [];

    [Fact]
    public void PutMigrateMovesTheMachineToTheIncomingProcessAndTheSourceExitsZero()
    {
        string kernel = Path.Combine(_dir, "guest.bin");
        File.WriteAllBytes(kernel, DirtyingGuest.Image);
        string sourceApi = Path.Combine(_dir, "source.sock"), destinationApi = Path.Combine(_dir, "destination.sock");
        string incoming = Path.Combine(_dir, "incoming.sock");

        var (destination, destinationOut) = Start("run", "--api-sock", destinationApi, "--incoming", $"unix:{incoming}");
        var (source, sourceOut) = Start("run", "--api-sock", sourceApi, "--kernel", kernel, "--accel", "emulate", "--memory", "64");
        WaitUntil(() => File.Exists(incoming) && File.Exists(destinationApi), () => $"the destination never listened: {Stderr(destination)}");
        WaitUntil(() => Dots(sourceOut) >= 2 && File.Exists(sourceApi), () => $"the source guest never printed: {Stderr(source)}");

        using (var api = new ApiClient(sourceApi))
        {
            Assert.Equal("none", api.Get("/migrate").GetProperty("state").GetString());
            Assert.Contains("downtime_ms", api.Refused("PUT", "/migrate", $$"""{"destination_url": "unix:{{incoming}}", "downtime_ms": 0}""", "downtime_ms"));
            api.Refused("PUT", "/migrate", $$"""{"destination_url": "unix:{{incoming}}", "speed": 1}""", "speed");
            var (status, body) = api.Send("PUT", "/migrate", $$"""{"destination_url": "unix:{{incoming}}", "downtime_ms": 300}""");
            Assert.True(status == 204, $"PUT /migrate answered {status}: {body}");
        }
        Assert.True(source.WaitForExit(TimeSpan.FromSeconds(30)), "the source process did not exit after the migration");
        Assert.True(source.ExitCode == 0, $"the source exited {source.ExitCode}: {Stderr(source)}");

        int arrived = Dots(destinationOut);
        WaitUntil(() => Dots(destinationOut) >= arrived + 2, () => $"the destination's console does not go on: {Stderr(destination)}");
        using (var api = new ApiClient(destinationApi))
        {
            Assert.Equal("Running", api.Get("/").GetProperty("state").GetString());
            api.Ok("PATCH", "/vm", """{"state": "Paused"}""");
        }
        Assert.False(destination.HasExited);
    }

    [Fact]
    public void ABrokenIncomingStreamEndsTheDestinationInOneLine()
    {
        string incoming = Path.Combine(_dir, "incoming.sock");
        var (destination, _) = Start("run", "--incoming", $"unix:{incoming}");
        WaitUntil(() => File.Exists(incoming), () => $"the destination never listened: {Stderr(destination)}");
        using (var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified))
        {
            socket.Connect(new System.Net.Sockets.UnixDomainSocketEndPoint(incoming));
            socket.Send("NOT-A-MIGRATION-STREAM-AT-ALL..."u8);
        }
        Assert.True(destination.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.Equal(1, destination.ExitCode);
        string errors = Stderr(destination).Trim();
        Assert.Equal("kvmsharp: error: the peer does not speak the KvmSharp migration stream (bad magic)", errors);
    }

    private readonly Dictionary<Process, StringBuilder> _stderr = [];
    private readonly Dictionary<Process, Task> _stderrReaders = [];

    private (Process Process, StringBuilder Stdout) Start(params string[] arguments)
    {
        var start = new ProcessStartInfo(Path.Combine(CliProcess.RepositoryRoot, "kvmsharp"))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            WorkingDirectory = CliProcess.RepositoryRoot,
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        var process = Process.Start(start)!;
        _processes.Add(process);
        process.StandardInput.Close();
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        _stderr[process] = stderr;
        _ = Task.Run(async () =>
        {
            var buffer = new char[256];
            int n;
            while ((n = await process.StandardOutput.ReadAsync(buffer)) > 0) lock (stdout) stdout.Append(buffer, 0, n);
        });
        _stderrReaders[process] = Task.Run(async () =>
        {
            string? line;
            while ((line = await process.StandardError.ReadLineAsync()) is not null)
                if (!line.StartsWith("kvmsharp: building the CLI", StringComparison.Ordinal)) lock (stderr) stderr.AppendLine(line);
        });
        return (process, stdout);
    }

    /// <summary>What the process wrote to stderr so far; all of it once the process has exited (its reader has reached EOF).</summary>
    private string Stderr(Process process)
    {
        if (process.HasExited) _stderrReaders[process].Wait(TimeSpan.FromSeconds(10));
        var stderr = _stderr[process];
        lock (stderr) return stderr.ToString();
    }

    private static int Dots(StringBuilder output)
    {
        lock (output) return output.ToString().Count(c => c == '.');
    }

    // The first launcher call may build the CLI (NativeAOT, a few minutes on two busy cores).
    private static void WaitUntil(Func<bool> condition, Func<string> failure) => Poll.Until(condition, failure, seconds: 300);

    public void Dispose()
    {
        foreach (var process in _processes)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(10));
            process.Dispose();
        }
        Directory.Delete(_dir, recursive: true);
    }
}
