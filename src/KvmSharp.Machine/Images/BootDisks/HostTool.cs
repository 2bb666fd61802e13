using System.ComponentModel;
using System.Diagnostics;

namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>Runs a host program the disk builders use (grub-mkimage, mkfs.ext4, mmdebstrap, genisoimage); any failure is one line.</summary>
internal static class HostTool
{
    /// <param name="missing">What to say when the program cannot be started (e.g. which Debian package has it).</param>
    /// <param name="progress">Gets the tool's stderr lines that start with "I: " (mmdebstrap's progress); null: none.</param>
    public static void Run(string tool, IEnumerable<string> arguments, string missing, Action<string>? progress = null)
    {
        var start = new ProcessStartInfo(tool) { RedirectStandardError = true, RedirectStandardOutput = true };
        start.Environment["DEBIAN_FRONTEND"] = "noninteractive";
        foreach (var a in arguments) start.ArgumentList.Add(a);
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new GuestImageException($"{Path.GetFileName(tool)} did not start");
        }
        catch (Win32Exception e)
        {
            throw new GuestImageException($"{Path.GetFileName(tool)} could not be started ({e.Message}): {missing}");
        }
        using (process)
        {
            string lastError = "";
            process.ErrorDataReceived += (_, e) =>
            {
                if (string.IsNullOrWhiteSpace(e.Data)) return;
                lastError = e.Data.Trim();
                if (progress is not null && e.Data.StartsWith("I: ", StringComparison.Ordinal)) progress("  " + e.Data);
            };
            process.BeginErrorReadLine();
            process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0) throw new GuestImageException($"{Path.GetFileName(tool)} failed ({process.ExitCode}): {lastError}");
        }
    }
}
