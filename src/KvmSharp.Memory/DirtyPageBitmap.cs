namespace KvmSharp.Memory;

/// <summary>
/// One bit per 4 KiB page of guest RAM, per region in <see cref="GuestMemory.Regions"/> order: the pages
/// written since the bitmap was last taken (live migration's pre-copy rounds). Marking is atomic and
/// allocation-free, so device threads, vCPU threads and the accelerator's own log can all add to one bitmap.
/// </summary>
public sealed class DirtyPageBitmap
{
    private readonly ulong[][] _words;
    private readonly GuestAddress[] _starts;
    private readonly ulong[] _pages;

    public DirtyPageBitmap(IReadOnlyList<GuestRegion> regions)
    {
        _words = new ulong[regions.Count][];
        _starts = new GuestAddress[regions.Count];
        _pages = new ulong[regions.Count];
        for (int i = 0; i < regions.Count; i++)
        {
            _starts[i] = regions[i].Start;
            _pages[i] = regions[i].Size / MemoryMap.PageSize;
            _words[i] = new ulong[(_pages[i] + 63) / 64];
        }
    }

    public int RegionCount => _words.Length;

    /// <summary>Pages in region <paramref name="region"/>.</summary>
    public ulong PageCount(int region) => _pages[region];

    /// <summary>The bitmap words of one region (bit i of word w = page w*64+i): for an accelerator's log to OR into.</summary>
    public Span<ulong> RegionWords(int region) => _words[region];

    /// <summary>Marks every page that [address, address+length) touches; bytes outside RAM are ignored.</summary>
    public void Mark(ulong address, ulong length)
    {
        if (length == 0) return;
        for (int r = 0; r < _words.Length; r++)
        {
            ulong start = _starts[r].Value, end = start + _pages[r] * MemoryMap.PageSize;
            if (address >= end || address + length <= start || address + length < address) continue;
            ulong first = (Math.Max(address, start) - start) / MemoryMap.PageSize;
            ulong last = (Math.Min(address + length, end) - 1 - start) / MemoryMap.PageSize;
            for (ulong page = first; page <= last; page++) MarkPage(r, page);
        }
    }

    /// <summary>Marks one page of one region (atomic).</summary>
    public void MarkPage(int region, ulong page)
    {
        ref ulong word = ref _words[region][page / 64];
        ulong bit = 1UL << (int)(page % 64);
        if ((Volatile.Read(ref word) & bit) == 0) Interlocked.Or(ref word, bit);
    }

    public bool IsDirty(int region, ulong page) => (Volatile.Read(ref _words[region][page / 64]) & (1UL << (int)(page % 64))) != 0;

    /// <summary>Adds every page marked in <paramref name="other"/> (same layout).</summary>
    public void Or(DirtyPageBitmap other)
    {
        for (int r = 0; r < _words.Length; r++)
        {
            var mine = _words[r];
            var theirs = other._words[r];
            for (int w = 0; w < mine.Length; w++)
                if (theirs[w] != 0) Interlocked.Or(ref mine[w], theirs[w]);
        }
    }

    /// <summary>Number of marked pages.</summary>
    public long Count()
    {
        long count = 0;
        foreach (var words in _words)
            for (int w = 0; w < words.Length; w++) count += (long)ulong.PopCount(Volatile.Read(ref words[w]));
        return count;
    }

    /// <summary>The guest-physical address of every marked page, in address order within each region.</summary>
    public IEnumerable<GuestAddress> DirtyPages()
    {
        for (int r = 0; r < _words.Length; r++)
            for (int w = 0; w < _words[r].Length; w++)
            {
                ulong bits = Volatile.Read(ref _words[r][w]);
                while (bits != 0)
                {
                    int bit = System.Numerics.BitOperations.TrailingZeroCount(bits);
                    bits &= bits - 1;
                    yield return new GuestAddress(_starts[r].Value + ((ulong)w * 64 + (ulong)bit) * MemoryMap.PageSize);
                }
            }
    }

    public void Clear()
    {
        foreach (var words in _words) Array.Clear(words);
    }
}
