namespace KvmSharp.Fuzz;

/// <summary>
/// One parser fed bytes through the entry point the product uses. <see cref="Run"/> lets every exception out;
/// <see cref="IsExpected"/> says which of them are the parser's own documented refusals. Anything else, a hang
/// or a crash of the process is a finding.
/// </summary>
public abstract class FuzzTarget
{
    /// <summary>The name on the command line and the corpus folder's name (fuzz/corpus/NAME).</summary>
    public abstract string Name { get; }

    /// <summary>One line: which parser, through which entry point.</summary>
    public abstract string Description { get; }

    /// <summary>Feeds one input through the parser.</summary>
    public abstract void Run(ReadOnlySpan<byte> input);

    /// <summary>True for the refusals the parser documents (its own exception type); false makes it a finding.</summary>
    public abstract bool IsExpected(Exception exception);

    /// <summary>Small valid (or nearly valid) inputs made by our own code, written to the corpus by --write-corpus.</summary>
    public abstract IEnumerable<FuzzSeed> Seeds();

    /// <summary>Runs one input: true when the parser took it, false when it refused it as documented; findings escape.</summary>
    public bool Accepts(ReadOnlySpan<byte> input)
    {
        try
        {
            Run(input);
            return true;
        }
        catch (Exception e) when (IsExpected(e))
        {
            return false;
        }
    }
}

/// <summary>A named seed input.</summary>
public sealed record FuzzSeed(string Name, byte[] Bytes);
