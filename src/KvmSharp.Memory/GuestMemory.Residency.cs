namespace KvmSharp.Memory;

// Which pages of guest RAM may hold data, for a copy that skips what was never touched (live migration's first
// pass; the memory file's holes are found the same way in WriteTo).
public sealed partial class GuestMemory
{
    /// <summary>
    /// Fills <paramref name="inUse"/>[i] with whether page i from <paramref name="offset"/> (page-aligned) into
    /// region <paramref name="region"/> may hold data. An anonymous page never written reads as zero (false); a
    /// region mapped from a memory file counts every page as in use. Pages past the region's end are false.
    /// </summary>
    public void PagesInUse(int region, ulong offset, Span<bool> inUse)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(region);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(region, _regions.Length);
        var r = _regions[region];
        if (offset % MemoryMap.PageSize != 0) throw new ArgumentException("the offset must be page-aligned", nameof(offset));
        ulong pagesLeft = offset >= r.Size ? 0 : (r.Size - offset) / MemoryMap.PageSize;
        int count = (int)Math.Min((ulong)inUse.Length, pagesLeft);
        inUse[count..].Clear();
        if (count == 0) return;
        if (r.IsFileBacked)
        {
            inUse[..count].Fill(true);
            return;
        }
        using var residency = new PageResidency();
        residency.Query(r.HostAddress + (nint)offset, inUse[..count]);
    }
}
