using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Memory;

/// <summary>
/// Which pages of our own mappings hold anything, from /proc/self/pagemap (Linux's
/// Documentation/admin-guide/mm/pagemap.rst: one 64-bit entry per virtual page; bit 63 present, bit 62
/// swapped). A private anonymous page that is neither present nor swapped has never been written since it
/// was mapped or discarded, so it reads as zero: a memory file can leave it a hole without reading it.
/// Reading it would fault in the zero page, which costs microseconds per page in a nested VM.
/// </summary>
internal sealed class PageResidency : IDisposable
{
    private const ulong Present = 1UL << 63, Swapped = 1UL << 62;
    private readonly SafeFileHandle? _pagemap;

    public PageResidency()
    {
        try { _pagemap = File.OpenHandle("/proc/self/pagemap", FileMode.Open, FileAccess.Read); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { _pagemap = null; }
    }

    /// <summary>
    /// Fills <paramref name="inUse"/>[i] with whether page i from <paramref name="address"/> may hold data
    /// (present or swapped out). Without a readable pagemap every page counts as in use.
    /// </summary>
    public void Query(nint address, Span<bool> inUse)
    {
        if (_pagemap is null)
        {
            inUse.Fill(true);
            return;
        }
        var entries = new ulong[inUse.Length];
        long offset = (long)((ulong)address / MemoryMap.PageSize) * sizeof(ulong);
        int read = RandomAccess.Read(_pagemap, MemoryMarshal.AsBytes(entries.AsSpan()), offset);
        for (int i = 0; i < inUse.Length; i++)
            inUse[i] = i * sizeof(ulong) >= read || (entries[i] & (Present | Swapped)) != 0;
    }

    public void Dispose() => _pagemap?.Dispose();
}
