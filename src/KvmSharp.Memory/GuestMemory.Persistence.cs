using System.Runtime.InteropServices;

namespace KvmSharp.Memory;

/// <summary>
/// Guest RAM as a file (snapshots) and the log of what devices write (live migration).
/// The memory file holds the regions one after another in <see cref="Regions"/> order, so its size is
/// <see cref="Size"/> and region i starts at the sum of the sizes before it (as Firecracker's memory file).
/// </summary>
public sealed partial class GuestMemory
{
    private volatile DirtyPageBitmap? _writeLog;

    /// <summary>
    /// RAM of <paramref name="size"/> bytes whose contents are the memory file <paramref name="file"/>, mapped
    /// copy-on-write (MAP_PRIVATE): pages load from the file only when touched, so creating it costs the same
    /// for any size, and the guest's writes never reach the file.
    /// </summary>
    public static GuestMemory CreateFromFile(SafeHandle file, ulong size)
    {
        var layout = MemoryMap.RamRanges(size);
        var regions = new GuestRegion[layout.Count];
        ulong offset = 0;
        try
        {
            for (int i = 0; i < layout.Count; i++)
            {
                regions[i] = new GuestRegion(layout[i].Start, layout[i].Size, file, offset);
                offset += layout[i].Size;
            }
        }
        catch
        {
            foreach (var r in regions) r?.Dispose();
            throw;
        }
        return new GuestMemory(regions) { Size = size };
    }

    /// <summary>Where region <paramref name="index"/> starts in the memory file.</summary>
    public ulong FileOffsetOf(int index)
    {
        ulong offset = 0;
        for (int i = 0; i < index; i++) offset += _regions[i].Size;
        return offset;
    }

    /// <summary>
    /// Writes all RAM into <paramref name="file"/> (which should be new and empty) in the memory-file layout,
    /// leaving every all-zero page a hole: a guest that touched little makes a small file. Returns the bytes
    /// of data written. Call while nothing writes guest memory (the machine is paused).
    /// </summary>
    public ulong WriteTo(Microsoft.Win32.SafeHandles.SafeFileHandle file)
    {
        const int page = (int)MemoryMap.PageSize;
        const int chunk = 2 << 20;
        ulong written = 0;
        using var residency = new PageResidency();
        Span<bool> inUse = new bool[chunk / page];
        for (int r = 0; r < _regions.Length; r++)
        {
            var region = _regions[r];
            ulong fileOffset = FileOffsetOf(r);
            for (ulong at = 0; at < region.Size; at += chunk)
            {
                int length = (int)Math.Min(chunk, region.Size - at);
                ReadOnlySpan<byte> data = region.SpanAt(region.Start.Value + at, length);
                // Anonymous pages never touched are zero without reading them; a restored region's are the old file's.
                if (region.IsFileBacked) inUse.Fill(true);
                else residency.Query(region.HostAddress + (nint)at, inUse[..(length / page)]);
                int runStart = -1;
                for (int p = 0; p <= length; p += page)
                {
                    bool zero = p == length || !inUse[p / page] || !data.Slice(p, page).ContainsAnyExcept((byte)0);
                    if (!zero && runStart < 0) runStart = p;
                    if (zero && runStart >= 0)
                    {
                        RandomAccess.Write(file, data[runStart..p], (long)(fileOffset + at) + runStart);
                        written += (ulong)(p - runStart);
                        runStart = -1;
                    }
                }
            }
        }
        RandomAccess.SetLength(file, (long)Size);
        return written;
    }

    /// <summary>
    /// From now on every range handed out writable (<see cref="TryGetSpan"/>, <see cref="Write"/>, …) is marked
    /// in <paramref name="log"/>. Marks land when the span is handed out, before the device writes through it:
    /// whoever takes the log must first quiesce the device threads, so every write marked has also landed.
    /// </summary>
    public void StartWriteLog(DirtyPageBitmap log) => _writeLog = log;

    public void StopWriteLog() => _writeLog = null;
}
