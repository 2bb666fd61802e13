using KvmSharp.Accelerators.Emulate.Translate;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Entering a block's translation (tier 1) and taking over where it stopped; --jit verify's comparison.
public sealed unsafe partial class CpuCore
{
    /// <summary>
    /// Runs a block's translation: it works on the same state in place and counts its instructions in the hot state;
    /// at a block boundary the run loop goes on, else the interpreter takes the block over at the instruction the
    /// code stopped before (a slow path, a possible fault, a form without translation) with the state exactly that
    /// before it.
    /// </summary>
    /// <remarks>
    /// <paramref name="block"/> is the block entered; on return, the one that ran last (chained code goes on through
    /// others), whose links the next lookup starts from.
    /// </remarks>
    private CoreStop? RunTranslated(ref DecodedBlock block, nint entry, bool verify)
    {
        var hot = _cpu.Hot;
        if (verify) return RunVerified(block, entry);
        hot->Retired = _retired;
        hot->NextEventCheck = _nextEventCheck;
        hot->ChainSlot = 0;
        var translator = _translator!;
        // Generated code goes on through the jump table only in the context it was entered in; the block entered is
        // added, so others can go on into it.
        if (_cpu.Segments[CpuState.Cs].Base == 0)
        {
            hot->Context = JumpTable.Context(Mmu.TranslationEpoch, _cpu.ExecutionMode);
            translator.JumpTable.Add(block.StartRip, hot->Context, block.Translation!.Body);
        }
        else hot->Context = JumpTable.NoContext;
        translator.Entries++;
        int exit = Translator.Run(entry);
        _retired = hot->Retired;
        block = translator.BlockOf(hot->ExitBlock);
        if (_stats is { } stats)
        {
            stats.TranslatedEntries++;
            if (exit >= 0)
            {
                stats.Exit(block.Instructions[exit].Mnemonic, compiled: exit < block.Translation!.Length);
                stats.InterpretedInstructions += block.Ops.Length - exit;
            }
        }
        if (exit < 0)
        {
            if (hot->ChainSlot != 0)
            {
                _chainSlot = hot->ChainSlot;
                _chainGeneration = translator.Generation;
                _chainRip = _cpu.Rip;
                _chainMode = _cpu.ExecutionMode;
            }
            return null;
        }
        return ExecuteBlock(block, exit);
    }

    /// <summary>
    /// --jit verify: the translation runs first (its translations never store to memory in this mode), then the state
    /// before it is put back and the interpreter runs the same instructions; registers, RIP and the six flags must
    /// agree. A mismatch stops the CPU (<see cref="CoreStop.Failed"/>) with the block and the difference named.
    /// </summary>
    private CoreStop? RunVerified(DecodedBlock block, nint entry)
    {
        var hot = _cpu.Hot;
        Span<ulong> before = stackalloc ulong[16], translated = stackalloc ulong[16];
        _cpu.Gpr.CopyTo(before);
        ulong ripBefore = _cpu.Rip;
        var flagsBefore = _cpu.Flags;
        ulong start = _retired;
        hot->Retired = _retired;
        hot->NextEventCheck = _nextEventCheck;
        int exit = Translator.Run(entry);
        _cpu.Gpr.CopyTo(translated);
        ulong ripTranslated = _cpu.Rip, flagsTranslated = _cpu.Flags.ToBits();
        int end = exit < 0 ? block.Ops.Length : exit;
        ulong retiredTranslated = hot->Retired;

        before.CopyTo(_cpu.Gpr);
        _cpu.Rip = ripBefore;
        _cpu.Flags.CopyFrom(in flagsBefore);
        var stop = ExecuteBlock(block, 0, end);
        string? difference = null;
        if (stop is not null || _retired != start + (ulong)end)
            difference = $"the interpreter stopped ({stop?.ToString() ?? "fault or exit"}) after {_retired - start} of {end} instructions";
        else if (exit < 0 && retiredTranslated != start + (ulong)end)
            difference = $"count {retiredTranslated - start}, interpreter {end}";
        else if (_cpu.Rip != ripTranslated) difference = $"RIP {ripTranslated:X}, interpreter {_cpu.Rip:X}";
        else if (_cpu.Flags.ToBits() != flagsTranslated) difference = $"flags {flagsTranslated:X}, interpreter {_cpu.Flags.ToBits():X}";
        else
        {
            for (int r = 0; r < 16; r++)
                if (_cpu.Gpr[r] != translated[r]) { difference = $"register {r} = {translated[r]:X}, interpreter {_cpu.Gpr[r]:X}"; break; }
        }
        if (difference is not null)
        {
            FailureMessage = $"translator mismatch in the block at RIP {block.StartRip:X} (physical {block.PhysicalStart:X}, {end} instructions: {string.Join("; ", block.Instructions.Take(end))}): {difference}";
            return CoreStop.Failed;
        }
        if (exit < 0) return null;
        _retired = start;   // the rest of the block from instruction `exit`, counted from the block's start
        return ExecuteBlock(block, exit);
    }
}
