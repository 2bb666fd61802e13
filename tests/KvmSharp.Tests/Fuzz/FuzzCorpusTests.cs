using KvmSharp.Fuzz;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Fuzz;

/// <summary>
/// The bounded fuzzing run in CI: every corpus seed and every saved finding (fuzz/crashes/TARGET, the regression
/// seeds of fixed bugs) goes once through its target, the same code afl-fuzz drives in fuzz/run. Each must be taken
/// or refused with the parser's own exception, within the hang limit. The long runs are fuzz/run's, on demand.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static readonly string FuzzRoot = Path.Combine(CliProcess.RepositoryRoot, "fuzz");

    public static TheoryData<string> Targets() => [.. FuzzTargets.All.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void EverySeedAndSavedFindingIsTakenOrRefusedAsDocumented(string name)
    {
        var target = FuzzTargets.Find(name)!;
        string corpus = Path.Combine(FuzzRoot, "corpus", name);
        string crashes = Path.Combine(FuzzRoot, "crashes", name);
        var files = Replay.Files(Directory.Exists(crashes) ? [corpus, crashes] : [corpus]).ToList();
        Assert.True(files.Count > 0, $"fuzz/corpus/{name} has no seeds");
        var outcomes = files.Select(f => Replay.RunFile(target, f)).ToList();
        Assert.All(outcomes, o => Assert.True(o.Finding is null, $"{o.Path}: {o.Finding}"));
        // A corpus the target refuses whole would fuzz nothing but the first check.
        Assert.Contains(outcomes, o => o.Accepted);
    }

    [Fact]
    public void EveryCorpusFolderBelongsToATarget()
    {
        var names = FuzzTargets.All.Select(t => t.Name).ToHashSet();
        foreach (var folder in Directory.EnumerateDirectories(Path.Combine(FuzzRoot, "corpus")))
            Assert.Contains(Path.GetFileName(folder), names);
        Assert.Equal(names.Count, FuzzTargets.All.Count);
    }

    [Fact]
    public void AnUnexpectedExceptionIsAFindingAndTheParsersOwnIsNot()
    {
        string dir = Directory.CreateTempSubdirectory("kvmsharp-fuzz-replay").FullName;
        try
        {
            string file = Path.Combine(dir, "input");
            File.WriteAllBytes(file, [1, 2, 3]);
            Assert.Null(Replay.RunFile(new Throwing(new KvmSharp.Boot.BootImageException("refused")), file).Finding);
            Assert.Contains("IndexOutOfRangeException", Replay.RunFile(new Throwing(new IndexOutOfRangeException()), file).Finding);
            Assert.Equal(1, Replay.Run(new Throwing(new NullReferenceException()), [dir], TextWriter.Null));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private sealed class Throwing(Exception exception) : FuzzTarget
    {
        public override string Name => "throwing";
        public override string Description => "throws what it is given";
        public override bool IsExpected(Exception e) => e is KvmSharp.Boot.BootImageException;
        public override void Run(ReadOnlySpan<byte> input) => throw exception;
        public override IEnumerable<FuzzSeed> Seeds() => [];
    }
}
