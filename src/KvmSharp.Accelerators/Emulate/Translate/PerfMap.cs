using System.Globalization;
using System.Text;

namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// Names translated blocks for <c>perf report</c>: with <c>KVMSHARP_PERF_MAP=1</c> each translation appends a line
/// "START SIZE name" (hex, no 0x) to <c>/tmp/perf-PID.map</c>, the file perf reads for code it finds in anonymous
/// executable memory (perf's tools/perf/Documentation/jit-interface.txt). The name says the guest RIP, how many of
/// the block's instructions the code runs and the cache generation (code space is reused after a flush; perf takes
/// the last line for an address). One file per process, shared by every vCPU's translator.
/// </summary>
public static class PerfMap
{
    private static readonly object Gate = new();
    private static FileStream? _file;
    private static bool _failed;

    /// <summary>Whether translations are written to the map (<c>KVMSHARP_PERF_MAP</c> is 1).</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("KVMSHARP_PERF_MAP") == "1";

    /// <summary>The map's path for this process.</summary>
    public static string Path => $"/tmp/perf-{Environment.ProcessId}.map";

    /// <summary>Appends one translated block's line; a map that cannot be written is given up on after one message.</summary>
    public static void Add(nint start, int size, ulong guestRip, int instructions, int ofInstructions, int generation)
    {
        if (!Enabled || size <= 0) return;
        string line = string.Create(CultureInfo.InvariantCulture,
            $"{(ulong)start:x} {size:x} guest_{guestRip:x}_{instructions}of{ofInstructions}_g{generation}\n");
        lock (Gate)
        {
            if (_failed) return;
            try
            {
                _file ??= new FileStream(Path, FileMode.Append, FileAccess.Write, FileShare.Read);
                _file.Write(Encoding.ASCII.GetBytes(line));
                _file.Flush();
            }
            catch (IOException e)
            {
                _failed = true;
                Console.Error.WriteLine($"kvmsharp: cannot write the perf map {Path}: {e.Message}");
            }
            catch (UnauthorizedAccessException e)
            {
                _failed = true;
                Console.Error.WriteLine($"kvmsharp: cannot write the perf map {Path}: {e.Message}");
            }
        }
    }
}
