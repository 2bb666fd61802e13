using System.Diagnostics;

namespace KvmSharp.Tests.Integration;

/// <summary>Runs a host tool the integration tests need (mkfs.ext4, debugfs, ip, cc, qemu-img) and fails the test loudly when it fails.</summary>
internal static class HostTool
{
    public static string Run(string tool, params string[] arguments)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"this test needs '{tool}' on the host ({e.Message}); ./scripts/test installs it", e);
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new InvalidOperationException($"{tool} {string.Join(' ', arguments)} failed ({process.ExitCode}): {stderr.Trim()}");
            return stdout.Result;
        }
    }
}
