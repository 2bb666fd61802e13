using System.ComponentModel;
using System.Diagnostics;

namespace KvmSharp.Machine.Images;

/// <summary>
/// Fetches Debian packages without installing them: <c>apt-cache depends</c> to follow a metapackage,
/// <c>apt-get download</c> into a folder of ours, <c>dpkg -x</c> to unpack. The host's own apt sources
/// decide where packages come from; when the package lists are missing or stale it runs
/// <c>apt-get update</c> once. Every failure becomes one line naming the tool and what it said.
/// </summary>
/// <param name="toolDirectory">Where apt-get, apt-cache and dpkg are; null: found on PATH.</param>
public sealed class DebianPackages(string downloadDirectory, Action<string> progress, string? toolDirectory = null)
{
    private bool _updated;

    /// <summary>The first dependency of <paramref name="metaPackage"/> whose name starts with <paramref name="prefix"/> (e.g. the versioned kernel behind linux-image-cloud-amd64).</summary>
    public string ResolveDependency(string metaPackage, string prefix)
    {
        string? found = FindDependency(metaPackage, prefix);
        if (found is null && UpdateOnce()) found = FindDependency(metaPackage, prefix);
        return found ?? throw new GuestImageException(
            $"apt-cache knows no package {metaPackage} with a dependency {prefix}*: the default guest needs Debian's amd64 package sources");
    }

    /// <summary>Downloads <paramref name="package"/> (the candidate version) and returns the .deb's path.</summary>
    public string Download(string package)
    {
        Directory.CreateDirectory(downloadDirectory);
        progress($"kvmsharp: fetching {package} from Debian");
        var (ok, error) = TryRun("apt-get", ["download", package], downloadDirectory);
        if (!ok && UpdateOnce()) (ok, error) = TryRun("apt-get", ["download", package], downloadDirectory);
        if (!ok)
            throw new GuestImageException($"apt-get could not download {package} from its package sources (network or /etc/apt/sources.list?): {error}");
        // apt-get names the file package_version_arch.deb, with ':' in an epoch written as %3a.
        return new DirectoryInfo(downloadDirectory).GetFiles(package + "_*.deb")
            .OrderByDescending(f => f.LastWriteTimeUtc).FirstOrDefault()?.FullName
            ?? throw new GuestImageException($"apt-get download {package} left no {package}_*.deb in {downloadDirectory}");
    }

    /// <summary>Unpacks a .deb's files into <paramref name="destination"/> (replaced if it exists).</summary>
    public void Extract(string deb, string destination)
    {
        if (Directory.Exists(destination)) Directory.Delete(destination, recursive: true);
        var (ok, error) = TryRun("dpkg", ["-x", deb, destination], null);
        if (!ok) throw new GuestImageException($"dpkg -x {Path.GetFileName(deb)} failed: {error}");
    }

    private string? FindDependency(string metaPackage, string prefix)
    {
        var (ok, output) = TryRun("apt-cache", ["depends", metaPackage], null, captureStdout: true);
        if (!ok) return null;
        foreach (var line in output.Split('\n'))
        {
            // "  Depends: linux-image-6.1.0-56-cloud-amd64" (a leading '|' marks an alternative).
            string text = line.Trim().TrimStart('|');
            if (!text.StartsWith("Depends:", StringComparison.Ordinal)) continue;
            string name = text["Depends:".Length..].Trim();
            if (name.StartsWith(prefix, StringComparison.Ordinal) && !name.StartsWith('<')) return name;
        }
        return null;
    }

    /// <summary>Refreshes the package lists the first time it is asked; false when it already did.</summary>
    private bool UpdateOnce()
    {
        if (_updated) return false;
        _updated = true;
        progress("kvmsharp: refreshing apt's package lists (apt-get update)");
        var (ok, error) = TryRun("apt-get", ["update"], null);
        if (!ok)
            throw new GuestImageException($"apt-get update failed, so Debian's packages cannot be fetched (network or /etc/apt/sources.list?): {error}");
        return true;
    }

    /// <summary>Runs a tool; returns success and its stdout (when captured) or the last line of its stderr.</summary>
    private (bool Ok, string Text) TryRun(string tool, string[] arguments, string? workingDirectory, bool captureStdout = false)
    {
        var start = new ProcessStartInfo(toolDirectory is null ? tool : Path.Combine(toolDirectory, tool))
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["LC_ALL"] = "C";
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new GuestImageException($"could not start {tool}");
        }
        catch (Win32Exception)
        {
            throw new GuestImageException($"'{tool}' not found: the default guest is built from Debian's packages with apt and dpkg (run on Debian or Ubuntu, or boot your own --kernel)");
        }
        using (process)
        {
            process.StandardInput.Close();
            var stderr = process.StandardError.ReadToEndAsync();
            string stdout = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode == 0) return (true, captureStdout ? stdout : "");
            // apt's own errors start with "E:"; its warnings (e.g. about downloading as root) are not the reason.
            var lines = stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            return (false, lines.LastOrDefault(l => l.StartsWith("E:", StringComparison.Ordinal)) ?? lines.LastOrDefault() ?? $"exit status {process.ExitCode}");
        }
    }
}
