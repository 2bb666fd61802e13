namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// The translation of a <see cref="Cpu.DecodedBlock"/>: host code for its first <see cref="Length"/> instructions
/// (the block is cut before the first one without a compiled form; the interpreter runs the rest). Valid while
/// its code cache is still in <see cref="Generation"/> and only for the execution mode it was compiled for
/// (paging, CPL, code size: the soft-TLB probes and stack forms depend on them).
/// </summary>
public sealed class CompiledBlock
{
    private bool _revoked;

    /// <summary>Where the code runs; 0 when not even the first instruction compiles (the block stays interpreted).</summary>
    public required nint Entry { get; init; }
    public required int Generation { get; init; }
    public required int Mode { get; init; }
    public required int Length { get; init; }
    /// <summary>Its number in its generation (<see cref="Translator.BlockOf"/>).</summary>
    public int Id { get; init; }
    /// <summary>Host code bytes (for statistics and perf maps).</summary>
    public int CodeSize { get; init; }

    /// <summary>Where chained jumps enter (after the prologue); 0 without code.</summary>
    public nint Body { get; init; }

    /// <summary>The exit a revoked body jumps to.</summary>
    public nint RevokedExit { get; init; }

    public CodeCache? Cache { get; init; }

    /// <summary>
    /// Makes the code leave for the run loop as soon as it is entered, by a chained jump or otherwise: its block was
    /// invalidated (code written) or replaced. Chains into it need not be found and undone: they all land here.
    /// </summary>
    public void Revoke()
    {
        if (_revoked || Entry == 0 || Cache is not { } cache || cache.Generation != Generation) return;
        _revoked = true;
        Span<byte> jump = stackalloc byte[5];
        jump[0] = 0xE9;   // jmp rel32
        System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(jump[1..], (int)(RevokedExit - (Body + 5)));
        cache.Write(Body, jump);
    }
}

/// <summary>What translated code returns: a block boundary, or the index of the instruction the interpreter must run next.</summary>
public static class TranslatedExit
{
    /// <summary>The block ended (or an iteration boundary of a self-loop was reached): RIP names the next instruction.</summary>
    public const int Boundary = -1;
    // Values ≥ 0: the index, in the block, of an instruction the code did not run (no compiled form, a slow path, a
    // possible fault): RIP names it and the state is exactly that before it.
}
