using System.Diagnostics;

namespace KvmSharp.Fuzz;

/// <summary>Runs saved inputs through a target once each, outside afl: the corpus check and a crash's reproduction.</summary>
public static class Replay
{
    /// <summary>Longest one input may take before it counts as a hang (afl's own limit in fuzz/run is the same).</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(10);

    /// <summary>What one input did: accepted, refused as documented, or a finding (with its exception, or a hang).</summary>
    public sealed record Outcome(string Path, bool Accepted, string? Finding);

    public static IEnumerable<string> Files(IEnumerable<string> paths) =>
        paths.SelectMany<string, string>(p => Directory.Exists(p)
            ? Directory.EnumerateFiles(p, "*", SearchOption.AllDirectories).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal)
            : [p]);

    /// <summary>Runs one file on its own thread so a hang is reported instead of waited for.</summary>
    public static Outcome RunFile(FuzzTarget target, string path)
    {
        byte[] input = File.ReadAllBytes(path);
        bool accepted = false;
        Exception? finding = null;
        var thread = new Thread(() =>
        {
            try { accepted = target.Accepts(input); }
            catch (Exception e) { finding = e; }
        }, 64 << 20) { IsBackground = true, Name = $"fuzz {target.Name}" };
        var clock = Stopwatch.StartNew();
        thread.Start();
        if (!thread.Join(HangLimit))
            return new Outcome(path, false, $"hang: still running after {clock.Elapsed.TotalSeconds:F0} s");
        return new Outcome(path, accepted, finding?.ToString());
    }

    public static int Run(FuzzTarget target, IEnumerable<string> paths, TextWriter output)
    {
        int findings = 0, accepted = 0, total = 0;
        foreach (var file in Files(paths))
        {
            var outcome = RunFile(target, file);
            total++;
            if (outcome.Accepted) accepted++;
            if (outcome.Finding is { } f)
            {
                findings++;
                output.WriteLine($"FINDING {file}: {f}");
            }
        }
        output.WriteLine($"{target.Name}: {total} inputs, {accepted} accepted, {total - accepted - findings} refused as documented, {findings} findings");
        return findings == 0 ? 0 : 1;
    }
}
