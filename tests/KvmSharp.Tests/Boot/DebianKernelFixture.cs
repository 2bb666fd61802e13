using System.Diagnostics;

namespace KvmSharp.Tests.Boot;

/// <summary>
/// A real Debian cloud kernel, fetched by scripts/fetch-debian-kernel.sh (cached between runs). When the
/// script fails (no apt, no network) the tests that use this fixture fail with the script's own message.
/// </summary>
public sealed class DebianKernelFixture
{
    public DebianKernelFixture()
    {
        string script = Path.Combine(RepositoryRoot(), "scripts", "fetch-debian-kernel.sh");
        var start = new ProcessStartInfo("bash", [script]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start bash");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{script} failed (exit {process.ExitCode}): {stderr.Result.Trim()}");
        string path = stdout.Trim().Split('\n').Last().Trim();
        KernelPath = path;
        Bytes = File.ReadAllBytes(path);
    }

    public string KernelPath { get; }

    public byte[] Bytes { get; }

    private static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "KvmSharp.slnx")))
                return dir.FullName;
        throw new InvalidOperationException($"cannot find the repository root (KvmSharp.slnx) above {AppContext.BaseDirectory}");
    }
}
