using System.ComponentModel;
using System.Diagnostics;
using System.Net.Sockets;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio.Net.Host;

/// <summary>passt could not be found, started or reached; the message is one line for the user.</summary>
public sealed class PasstException(string message) : IOException(message);

/// <summary>A host port passt passes to the guest: QEMU's hostfwd, passt's -t/-u.</summary>
public readonly record struct PasstPortForward(bool Udp, string? HostAddress, int HostPort, int GuestPort)
{
    /// <summary>passt's port spec (passt(1), -t): [ADDRESS/]HOSTPORT:GUESTPORT.</summary>
    public string Spec => $"{(HostAddress is null ? "" : HostAddress + "/")}{HostPort}:{GuestPort}";
}

/// <summary>
/// One passt of the VMM's own, for one NIC: started in the foreground as our child (-f), serving one client
/// only (-1: it exits when our connection closes, so it also goes when the VMM dies without cleaning up; this
/// passt, Debian 12's 2023_03 build, has no parent-death option and PR_SET_PDEATHSIG cannot be set on a child
/// .NET starts), on a socket in a private temporary folder (0700).
/// <para>
/// passt will not run as root: started by root it becomes "nobody" before it binds its socket, so then the
/// folder is given to nobody (still 0700) and passt is told so (--runas), and root, which can enter any folder,
/// connects. Its output is kept (the last lines) to say why it stopped. Disposing ends it (SIGTERM after our end
/// of the socket is closed, then SIGKILL) and removes the folder.
/// </para>
/// </summary>
public sealed class PasstProcess : IDisposable
{
    public const string DebianPackage = "passt";
    private const int Nobody = 65534;   // Debian's nobody:nogroup
    private const int KeptLines = 20;
    private static readonly TimeSpan SocketWait = TimeSpan.FromSeconds(10);

    private readonly Process _process;
    private readonly string _directory;
    private readonly Queue<string> _lastLines = new();
    private bool _disposed;

    private PasstProcess(Process process, string directory)
    {
        _process = process;
        _directory = directory;
    }

    /// <summary>The socket passt serves.</summary>
    public string SocketPath => Path.Combine(_directory, "passt.sock");

    /// <summary>Starts passt with <paramref name="forwards"/>, waits for its socket and returns it connected, with the process that owns it.</summary>
    /// <exception cref="PasstException">No passt, or it would not start or serve, in one line.</exception>
    /// <param name="searchPath">Where to look for passt, as $PATH is written; null: $PATH itself.</param>
    public static (PasstProcess Process, Socket Socket) Start(IReadOnlyList<PasstPortForward> forwards, string? searchPath = null)
    {
        string program = FindProgram(searchPath ?? Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin") ?? throw new PasstException(
            $"user networking needs passt, which is not installed (Debian and Ubuntu: apt-get install {DebianPackage})");
        string directory = Directory.CreateTempSubdirectory("kvmsharp-passt-").FullName;   // 0700 (.NET makes temporary folders owner-only)
        ProcessOwnedFolders.Add(directory);
        bool root = FileOwner.EffectiveUserId == 0;
        try
        {
            if (root) FileOwner.Change(directory, Nobody, Nobody);
        }
        catch (IOException e)
        {
            Directory.Delete(directory, recursive: true);
            throw new PasstException($"cannot hand {directory} to nobody for passt: {e.Message}");
        }

        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        string socketPath = Path.Combine(directory, "passt.sock");
        foreach (var a in (string[])["--foreground", "--one-off", "--quiet", "--socket", socketPath]) start.ArgumentList.Add(a);
        if (root) { start.ArgumentList.Add("--runas"); start.ArgumentList.Add($"{Nobody}:{Nobody}"); }
        foreach (var forward in forwards)
        {
            start.ArgumentList.Add(forward.Udp ? "--udp-ports" : "--tcp-ports");
            start.ArgumentList.Add(forward.Spec);
        }

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new PasstException($"could not start {program}");
        }
        catch (Win32Exception e)
        {
            Directory.Delete(directory, recursive: true);
            throw new PasstException($"could not start {program}: {e.Message}");
        }
        var passt = new PasstProcess(process, directory);
        process.OutputDataReceived += (_, e) => passt.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => passt.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        process.StandardInput.Close();
        try
        {
            return (passt, passt.Connect());
        }
        catch
        {
            passt.Dispose();
            throw;
        }
    }

    /// <summary>Null while passt runs; once it has ended, its exit status and the last thing it said.</summary>
    public string? WhyGone()
    {
        if (!_process.HasExited && !_process.WaitForExit(200)) return null;
        _process.WaitForExit();   // the output readers finish too
        string said = LastWords();
        return $"passt exited with status {_process.ExitCode}{(said.Length > 0 ? ": " + said : "")}";
    }

    private Socket Connect()
    {
        var deadline = DateTime.UtcNow + SocketWait;
        while (true)
        {
            if (_process.HasExited)
            {
                _process.WaitForExit();
                string said = LastWords();
                throw new PasstException($"passt exited with status {_process.ExitCode} before it served the NIC{(said.Length > 0 ? ": " + said : "")}");
            }
            if (File.Exists(SocketPath))
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    socket.Connect(new UnixDomainSocketEndPoint(SocketPath));
                    return socket;
                }
                catch (SocketException)
                {
                    socket.Dispose();   // bound but not listening yet: again
                }
            }
            if (DateTime.UtcNow > deadline)
                throw new PasstException($"passt made no socket in {SocketWait.TotalSeconds:F0} s ({SocketPath}){(LastWords() is { Length: > 0 } said ? ": " + said : "")}");
            Thread.Sleep(20);
        }
    }

    /// <summary>Keeps passt's last lines, less its complaints that there is no syslog to write to.</summary>
    private void Keep(string? line)
    {
        if (string.IsNullOrWhiteSpace(line) || line.StartsWith("Failed to send", StringComparison.Ordinal) && line.Contains("syslog", StringComparison.Ordinal)) return;
        lock (_lastLines)
        {
            _lastLines.Enqueue(line.Trim());
            if (_lastLines.Count > KeptLines) _lastLines.Dequeue();
        }
    }

    /// <summary>The last line passt wrote that is not its banner ("Don't run as root" and "You can now start qemu" say nothing about a failure).</summary>
    private string LastWords()
    {
        lock (_lastLines)
            return _lastLines.LastOrDefault(l => !l.StartsWith("Don't run as root", StringComparison.Ordinal) && !l.Contains("qemu", StringComparison.OrdinalIgnoreCase) && !l.Contains("qrap", StringComparison.Ordinal)) ?? "";
    }

    private static string? FindProgram(string searchPath)
    {
        foreach (var dir in searchPath.Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            string candidate = Path.Combine(dir, "passt");
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        try
        {
            // One-off passt exits by itself once our end closes; a stubborn one is ended.
            if (!_process.WaitForExit(1000)) _process.Kill();
            _process.WaitForExit(2000);
        }
        catch (InvalidOperationException) { /* never started */ }
        _process.Dispose();
        ProcessOwnedFolders.Remove(_directory);
        try { Directory.Delete(_directory, recursive: true); }
        catch (IOException) { /* passt's socket file may outlive it; the folder is in the temporary folder */ }
        catch (UnauthorizedAccessException) { }
    }
}
