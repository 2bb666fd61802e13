using KvmSharp.Memory;

namespace KvmSharp.Boot.Cpu;

/// <summary>
/// 4-level page tables that identity-map the first 4 GiB with 2 MiB pages: one PML4 entry → one PDPT whose
/// first four entries → four page directories of 512 large pages each (Intel SDM vol 3 §4.5, tables 4-15,
/// 4-17). That covers every place the 64-bit Linux entry needs mapped: kernel, zero page, command line,
/// initrd (all below 4 GiB).
/// </summary>
public static class IdentityPageTables
{
    private const ulong Present = 1, Writable = 1 << 1, PageSize2M = 1 << 7;
    private const int PageDirectories = 4;
    private const int EntriesPerTable = 512;
    private const ulong LargePage = 2UL << 20;

    /// <summary>Bytes the identity map covers.</summary>
    public const ulong MappedBytes = PageDirectories * EntriesPerTable * LargePage;

    /// <summary>Writes the tables at PageTablePml4/Pdpt/Pd and returns the value for CR3.</summary>
    public static ulong Write(GuestMemory memory)
    {
        var pml4 = new GuestAddress(MemoryMap.PageTablePml4);
        var pdpt = new GuestAddress(MemoryMap.PageTablePdpt);
        memory.Clear(pml4, (int)MemoryMap.PageSize);
        memory.Clear(pdpt, (int)MemoryMap.PageSize);
        memory.Write(pml4, MemoryMap.PageTablePdpt | Present | Writable);

        for (int d = 0; d < PageDirectories; d++)
        {
            ulong pd = MemoryMap.PageTablePd + (ulong)d * MemoryMap.PageSize;
            memory.Write(pdpt + (ulong)d * 8, pd | Present | Writable);
            for (int e = 0; e < EntriesPerTable; e++)
            {
                ulong physical = ((ulong)d * EntriesPerTable + (ulong)e) * LargePage;
                memory.Write(new GuestAddress(pd + (ulong)e * 8), physical | Present | Writable | PageSize2M);
            }
        }
        return MemoryMap.PageTablePml4;
    }
}
