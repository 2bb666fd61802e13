using System.Diagnostics;

namespace KvmSharp.Manager;

/// <summary>
/// Runs a host tool (ip, nft, setfacl, useradd, getent…) to its end and gives back its exit status and output.
/// The redirected streams are disposed here: Process.Dispose leaves them open (they may still be referenced),
/// so a daemon that ran tools without closing them kept three pipes per call until a GC (seen: +4 fds per VM start).
/// </summary>
internal static class ToolProcess
{
    /// <summary>Throws Win32Exception or InvalidOperationException when <paramref name="program"/> cannot be started.</summary>
    public static (int ExitCode, string Stdout, string Stderr) Run(string program, IEnumerable<string> args, string? stdin = null)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"cannot start {program}");
        using var input = process.StandardInput;
        using var output = process.StandardOutput;
        using var error = process.StandardError;
        if (stdin is not null) input.Write(stdin);
        input.Close();
        var stdout = output.ReadToEndAsync();
        string stderr = error.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr);
    }
}
