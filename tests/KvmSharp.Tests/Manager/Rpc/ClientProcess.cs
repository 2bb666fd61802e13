using System.Diagnostics;
using System.Text;

namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>Runs a real libvirt client (virsh, python3-libvirt) with a deadline; a process past it is killed, never waited for.</summary>
internal static class ClientProcess
{
    public sealed record Result(int ExitCode, string Stdout, string Stderr)
    {
        public override string ToString() => $"exit {ExitCode}\nstdout: {Stdout}\nstderr: {Stderr}";
    }

    public static Result Run(string file, IEnumerable<string> arguments, int timeoutSeconds = 30, string? stdin = null)
    {
        var start = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in arguments) start.ArgumentList.Add(a);
        start.Environment.Remove("LIBVIRT_DEFAULT_URI");
        start.Environment["LC_ALL"] = "C";
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {file}");
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (stdout) stdout.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            if (stdin is not null) process.StandardInput.Write(stdin);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // the client exited without reading its input
        }
        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds)))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(TimeSpan.FromSeconds(5));
            lock (stdout) lock (stderr)
                    Assert.Fail($"{file} {string.Join(' ', arguments)} ran over {timeoutSeconds} s\nstdout: {stdout}\nstderr: {stderr}");
        }
        process.WaitForExit();   // flushes the asynchronous readers
        lock (stdout) lock (stderr) return new Result(process.ExitCode, stdout.ToString(), stderr.ToString());
    }

    /// <summary>virsh against our socket: <c>qemu+unix:///system?socket=PATH</c>.</summary>
    public static Result Virsh(string socket, params string[] arguments) => Virsh(socket, readOnly: false, arguments);

    public static Result Virsh(string socket, bool readOnly, params string[] arguments)
    {
        var all = new List<string> { "-q", "-c", $"qemu+unix:///system?socket={socket}" };
        if (readOnly) all.Insert(0, "-r");
        all.AddRange(arguments);
        return Run("/usr/bin/virsh", all);
    }
}
