using System.Globalization;
using System.Text;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// Where the run loop's time goes between the tiers, for profiling (<c>KVMSHARP_JIT_STATS=1</c>): entries into
/// translated code, blocks and instructions the interpreter ran, and which instructions translated code left for
/// (the instruction at the exit: a form without translation, or a slow path). Printed to stderr when the process
/// exits, one summary per vCPU. Counting costs one predictable branch per block when off.
/// </summary>
public sealed class TranslatorStats
{
    private static readonly List<TranslatorStats> All = [];

    /// <summary>Whether stats are kept (<c>KVMSHARP_JIT_STATS</c> is 1).</summary>
    public static bool Enabled { get; } = Environment.GetEnvironmentVariable("KVMSHARP_JIT_STATS") == "1";

    private readonly Dictionary<Mnemonic, long> _uncompiled = [], _slowPaths = [];
    private readonly Func<Translator?> _translator;

    public long TranslatedEntries, InterpretedBlocks, InterpretedInstructions, ExitsToInterpreter;

    private TranslatorStats(Func<Translator?> translator) => _translator = translator;

    /// <summary>A counter set that is reported at process exit; null when stats are off.</summary>
    public static TranslatorStats? Create(Func<Translator?> translator)
    {
        if (!Enabled) return null;
        var stats = new TranslatorStats(translator);
        lock (All)
        {
            if (All.Count == 0) AppDomain.CurrentDomain.ProcessExit += (_, _) => ReportAll();
            All.Add(stats);
        }
        return stats;
    }

    /// <summary>
    /// Translated code left at an instruction for the interpreter: one the block was cut before (no compiled form),
    /// or a compiled one whose slow path was taken (TLB miss, MMIO, page crossing, code page, flags from elsewhere).
    /// </summary>
    public void Exit(Mnemonic mnemonic, bool compiled)
    {
        ExitsToInterpreter++;
        var counts = compiled ? _slowPaths : _uncompiled;
        counts[mnemonic] = counts.GetValueOrDefault(mnemonic) + 1;
    }

    private static void ReportAll()
    {
        lock (All)
            for (int n = 0; n < All.Count; n++) Console.Error.Write(All[n].Report(n));
    }

    /// <summary>The summary for vCPU <paramref name="index"/>.</summary>
    public string Report(int index)
    {
        var s = new StringBuilder();
        var t = _translator();
        s.Append(CultureInfo.InvariantCulture, $"jit stats, vCPU {index}: {TranslatedEntries} entries into translated code, {InterpretedBlocks} blocks and {InterpretedInstructions} instructions interpreted");
        if (t is not null)
            s.Append(CultureInfo.InvariantCulture, $"; {t.BlocksTranslated} blocks translated ({t.InstructionsTranslated} of {t.InstructionsInTranslatedBlocks} instructions), {t.Chains} chains, {t.Flushes} flushes, {t.CompileFailures} compile failures");
        s.Append('\n');
        s.Append(CultureInfo.InvariantCulture, $"  {ExitsToInterpreter} exits to the interpreter\n");
        Top(s, "  at instructions without a compiled form:", _uncompiled);
        Top(s, "  at slow paths of compiled ones:", _slowPaths);
        return s.ToString();
    }

    private static void Top(StringBuilder s, string title, Dictionary<Mnemonic, long> counts)
    {
        s.Append(title);
        foreach (var (mnemonic, count) in counts.OrderByDescending(e => e.Value).Take(30))
            s.Append(CultureInfo.InvariantCulture, $" {mnemonic} {count}");
        s.Append('\n');
    }
}
