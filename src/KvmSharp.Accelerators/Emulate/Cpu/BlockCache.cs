using System.Collections.Concurrent;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>A run of decoded instructions that ends at a control transfer or a page boundary.</summary>
public sealed class DecodedBlock
{
    public required Instruction[] Instructions { get; init; }
    /// <summary>The same instructions pre-decoded (<see cref="MicroOp.Compile"/>), index for index.</summary>
    public required MicroOp[] Ops { get; init; }
    public required ulong StartRip { get; init; }
    public required ulong PhysicalStart { get; init; }
    public required int Bitness { get; init; }
    /// <summary>The physical pages its bytes came from (two when the last instruction crosses a page).</summary>
    public required ulong[] Pages { get; init; }
    /// <summary>False once its code was written (or it was replaced): a translation of it is revoked at the same time.</summary>
    public bool Valid
    {
        get => _valid;
        set
        {
            _valid = value;
            if (!value) Translation?.Revoke();
        }
    }

    private bool _valid = true;

    // Two links to the blocks that ran after this one (a Jcc's taken target and its fall-through, or a
    // loop's back-edge and exit), so the run loop skips the jump cache, the translation and the
    // dictionary for most transitions. A link is valid only while its key (BlockLink) still matches.
    public BlockLink Link0, Link1;

    /// <summary>How often the interpreter ran it while the translator counts toward its threshold.</summary>
    public int Executions;

    /// <summary>Its tier-1 translation, when one was made (see <see cref="Translate.Translator"/>).</summary>
    public Translate.CompiledBlock? Translation;
}

/// <summary>
/// A cached successor of a block, with what made it right: the target's RIP, the CS base, the mode
/// (<see cref="CpuState.ExecutionMode"/>: code size, CPL, paging) and the translation epoch (any TLB
/// flush or INVLPG); the target itself must still be <see cref="DecodedBlock.Valid"/> (no code write).
/// </summary>
public struct BlockLink
{
    public DecodedBlock? Target;
    public ulong Rip, CsBase;
    public uint Epoch;
    public int Mode;

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    public readonly bool Matches(ulong rip, ulong csBase, uint epoch, int mode) =>
        Rip == rip && Epoch == epoch && CsBase == csBase && Mode == mode && Target is { Valid: true };
}

/// <summary>
/// Decoded blocks of one vCPU, keyed by physical address (and checked against RIP and bitness, since
/// the same code can run at two virtual addresses or in two modes). A write to a page that holds
/// decoded code drops that page's blocks (<see cref="PhysicalMemory.CodePageWritten"/>); writes by other
/// threads are queued and applied by the owner before its next block.
/// </summary>
public sealed class BlockCache
{
    private const int MaxInstructionsPerBlock = 64;
    private const int RecentSize = 4096;
    private readonly DecodedBlock?[] _recent = new DecodedBlock?[RecentSize];
    private readonly Dictionary<ulong, DecodedBlock> _blocks = [];
    private readonly Dictionary<ulong, List<DecodedBlock>> _byPage = [];
    private readonly ConcurrentQueue<ulong> _stalePages = new();
    private readonly PhysicalMemory _physical;
    private volatile bool _hasStalePages;

    public BlockCache(PhysicalMemory physical)
    {
        _physical = physical;
        physical.CodePageWritten += page =>
        {
            _stalePages.Enqueue(page);
            _hasStalePages = true;
            StalePagesQueued?.Invoke();
        };
    }

    /// <summary>Called (on the writing thread) when a page's code became stale.</summary>
    public Action? StalePagesQueued { get; set; }

    /// <summary>True when some page's code was overwritten since the last <see cref="ApplyInvalidations"/>.</summary>
    public bool HasStalePages => _hasStalePages;

    public void ApplyInvalidations()
    {
        _hasStalePages = false;
        while (_stalePages.TryDequeue(out ulong page))
        {
            if (!_byPage.Remove(page, out var blocks)) continue;
            foreach (var block in blocks)
            {
                block.Valid = false;
                _blocks.Remove(block.PhysicalStart);
            }
        }
    }

    /// <summary>Drops every decoded block (guest memory may hold other code now: a restored snapshot).</summary>
    public void Clear()
    {
        foreach (var block in _blocks.Values) block.Valid = false;
        foreach (var blocks in _byPage.Values)
            foreach (var block in blocks) block.Valid = false;
        _blocks.Clear();
        _byPage.Clear();
        Array.Clear(_recent);
        _stalePages.Clear();
        _hasStalePages = false;
    }

    /// <summary>How many blocks the per-page lists hold: the live ones, each once per page it spans.</summary>
    public int PageEntryCount => _byPage.Values.Sum(blocks => blocks.Count);

    /// <summary>
    /// A block replaced at its physical address leaves its pages' lists too. The same physical code is reached at
    /// another RIP whenever another process runs a shared library (ASLR puts it elsewhere), so without this the lists
    /// grew with every process until the page was written: 3 GiB of dead blocks by a Debian login prompt.
    /// </summary>
    private void Forget(DecodedBlock block)
    {
        block.Valid = false;
        foreach (ulong page in block.Pages)
        {
            if (!_byPage.TryGetValue(page, out var onPage)) continue;
            onPage.Remove(block);
            if (onPage.Count == 0) _byPage.Remove(page);
        }
    }

    public DecodedBlock? Find(ulong physical, ulong rip, int bitness)
    {
        // A direct-mapped front for the dictionary: most lookups (returns, indirect jumps) hit it.
        ref var recent = ref _recent[(physical ^ (physical >> 12)) & (RecentSize - 1)];
        if (recent is { Valid: true } hit && hit.PhysicalStart == physical && hit.StartRip == rip && hit.Bitness == bitness)
            return hit;
        if (!_blocks.TryGetValue(physical, out var block) || block.StartRip != rip || block.Bitness != bitness) return null;
        recent = block;
        return block;
    }

    /// <summary>Decodes a block from <paramref name="bytes"/> (the code from RIP to the page end, plus up to 15 bytes of the next page when mapped).</summary>
    public DecodedBlock Decode(ReadOnlySpan<byte> bytes, int bytesInFirstPage, ulong rip, ulong physical, ulong? nextPagePhysical, int bitness)
    {
        var decoder = Decoder.Create(bitness, new ByteArrayCodeReader(bytes.ToArray()), rip, DecoderOptions.None);
        var list = new List<Instruction>(16);
        bool crossesPage = false;
        while (list.Count < MaxInstructionsPerBlock)
        {
            ulong offset = decoder.IP - rip;
            if (offset >= (ulong)bytesInFirstPage) break;
            decoder.Decode(out var instruction);
            if (instruction.IsInvalid && list.Count > 0 && offset + 15 > (ulong)bytesInFirstPage && nextPagePhysical is null)
                break;   // possibly cut off by an unmapped next page: end the block and fetch again from here
            list.Add(instruction);
            if (offset + (ulong)instruction.Length > (ulong)bytesInFirstPage) crossesPage = true;
            if (instruction.IsInvalid || instruction.FlowControl != FlowControl.Next || crossesPage) break;
        }
        ulong firstPage = physical >> 12;
        ulong[] pages = crossesPage && nextPagePhysical is { } next ? [firstPage, next >> 12] : [firstPage];
        var instructions = list.ToArray();
        var ops = new MicroOp[instructions.Length];
        for (int n = 0; n < instructions.Length; n++) ops[n] = MicroOp.Compile(in instructions[n], bitness);
        var block = new DecodedBlock
        {
            Instructions = instructions, Ops = ops, StartRip = rip, PhysicalStart = physical, Bitness = bitness, Pages = pages,
        };
        if (_blocks.Remove(physical, out var replaced)) Forget(replaced);
        _blocks[physical] = block;
        foreach (ulong page in pages)
        {
            _physical.MarkCodePage(page);
            if (!_byPage.TryGetValue(page, out var onPage)) _byPage[page] = onPage = [];
            onPage.Add(block);
        }
        return block;
    }
}
