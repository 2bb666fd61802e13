namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// Blocks by virtual RIP, direct-mapped (as QEMU's tb_jmp_cache): a block transition that no link
/// serves (returns, indirect jumps, a third successor) finds its block here without translating RIP
/// or hashing the physical address. An entry carries the same key as a <see cref="BlockLink"/>, so a
/// TLB flush (translation epoch), a mode or CS base change and a code write (the block's
/// <see cref="DecodedBlock.Valid"/>) each make stale entries miss without any flush of this table.
/// </summary>
public sealed class JumpCache
{
    private const int Size = 4096;
    private readonly BlockLink[] _entries = new BlockLink[Size];

    private static int Slot(ulong rip) => (int)((rip ^ (rip >> 12)) & (Size - 1));

    public DecodedBlock? Find(ulong rip, ulong csBase, uint epoch, int mode)
    {
        ref readonly var entry = ref _entries[Slot(rip)];
        return entry.Matches(rip, csBase, epoch, mode) ? entry.Target : null;
    }

    public void Add(DecodedBlock block, ulong rip, ulong csBase, uint epoch, int mode) =>
        _entries[Slot(rip)] = new BlockLink { Target = block, Rip = rip, CsBase = csBase, Epoch = epoch, Mode = mode };

    /// <summary>Forgets every entry (a state load: blocks are dropped anyway; this frees them sooner).</summary>
    public void Clear() => Array.Clear(_entries);
}
