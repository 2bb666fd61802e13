using System.Diagnostics;

namespace KvmSharp.Tests.Cli;

/// <summary>Runs the real CLI through the repository's ./kvmsharp launcher, as a user would.</summary>
internal static class CliProcess
{
    public static string RepositoryRoot { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "kvmsharp")) && File.Exists(Path.Combine(dir.FullName, "KvmSharp.slnx")))
                return dir.FullName;
        throw new InvalidOperationException("cannot find the repository root (the directory with ./kvmsharp) above the test binaries");
    }

    public static (int ExitCode, string Stdout, string Stderr) Run(params string[] arguments) => RunUnder([], arguments);

    /// <summary>As <see cref="Run"/>, started through <paramref name="wrapper"/> (say <c>ip netns exec NAME</c>).</summary>
    public static (int ExitCode, string Stdout, string Stderr) RunUnder(string[] wrapper, params string[] arguments)
    {
        string launcher = Path.Combine(RepositoryRoot, "kvmsharp");
        var start = new ProcessStartInfo(wrapper.Length > 0 ? wrapper[0] : launcher)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true,
            WorkingDirectory = RepositoryRoot,
        };
        foreach (var a in wrapper.Skip(1)) start.ArgumentList.Add(a);
        if (wrapper.Length > 0) start.ArgumentList.Add(launcher);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        // The first call may build the CLI (NativeAOT, about a minute on two cores).
        if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"kvmsharp {string.Join(' ', arguments)} did not finish in 5 minutes");
        }
        return (process.ExitCode, stdout.Result, StripBuildNotice(stderr.Result));
    }

    private static string StripBuildNotice(string stderr) =>
        string.Join('\n', stderr.Split('\n').Where(l => !l.StartsWith("kvmsharp: building the CLI", StringComparison.Ordinal)));
}
