using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace KvmSharp.Memory;

/// <summary>
/// All guest RAM: the only door to the guest. Every access is checked against the regions (bounds and
/// 64-bit overflow) before any host memory is touched; an access that fails throws
/// <see cref="GuestMemoryException"/> or returns false from the Try- methods, and never touches host memory.
/// An access may not straddle two regions: they are not contiguous in the host.
/// </summary>
public sealed partial class GuestMemory : IDisposable
{
    private readonly GuestRegion[] _regions;

    private GuestMemory(GuestRegion[] regions) => _regions = regions;

    public IReadOnlyList<GuestRegion> Regions => _regions;

    /// <summary>Total bytes of RAM.</summary>
    public ulong Size { get; private init; }

    /// <summary>Creates RAM of <paramref name="size"/> bytes laid out around the PCI hole (see <see cref="MemoryMap"/>).</summary>
    public static GuestMemory Create(ulong size)
    {
        var layout = MemoryMap.RamRanges(size);
        var regions = new GuestRegion[layout.Count];
        try
        {
            for (int i = 0; i < layout.Count; i++)
                regions[i] = new GuestRegion(layout[i].Start, layout[i].Size);
        }
        catch
        {
            foreach (var r in regions) r?.Dispose();
            throw;
        }
        return new GuestMemory(regions) { Size = size };
    }

    /// <summary>True when every byte of [address, address+length) is RAM in one region.</summary>
    public bool IsValidRange(GuestAddress address, ulong length) => FindRegion(address.Value, length) is not null;

    /// <summary>
    /// A writable view of [address, address+length), or false if any byte of it is not RAM. While a write log
    /// is on (<see cref="StartWriteLog"/>) the range counts as written; readers should prefer
    /// <see cref="TryGetReadOnlySpan"/>.
    /// </summary>
    public bool TryGetSpan(GuestAddress address, int length, out Span<byte> span)
    {
        if (!TryGetSpanCore(address, length, out span)) return false;
        _writeLog?.Mark(address.Value, (ulong)length);
        return true;
    }

    /// <summary>A read-only view of [address, address+length), or false if any byte of it is not RAM.</summary>
    public bool TryGetReadOnlySpan(GuestAddress address, int length, out ReadOnlySpan<byte> span)
    {
        bool ok = TryGetSpanCore(address, length, out var writable);
        span = writable;
        return ok;
    }

    /// <summary>A read-only view of [address, address+length); throws if any byte of it is not RAM.</summary>
    public ReadOnlySpan<byte> GetReadOnlySpan(GuestAddress address, int length)
    {
        if (!TryGetSpanCore(address, length, out var span))
            ThrowOutside(address, (ulong)Math.Max(length, 0));
        return span;
    }

    private bool TryGetSpanCore(GuestAddress address, int length, out Span<byte> span)
    {
        if (length < 0 || FindRegion(address.Value, (ulong)length) is not { } region)
        {
            span = default;
            return false;
        }
        span = region.SpanAt(address.Value, length);
        return true;
    }

    /// <summary>A view of [address, address+length); throws if any byte of it is not RAM.</summary>
    public Span<byte> GetSpan(GuestAddress address, int length)
    {
        if (!TryGetSpan(address, length, out var span))
            ThrowOutside(address, (ulong)Math.Max(length, 0));
        return span;
    }

    public void Read(GuestAddress address, Span<byte> destination) =>
        GetReadOnlySpan(address, destination.Length).CopyTo(destination);

    public void Write(GuestAddress address, ReadOnlySpan<byte> source) =>
        source.CopyTo(GetSpan(address, source.Length));

    public bool TryRead(GuestAddress address, Span<byte> destination)
    {
        if (!TryGetReadOnlySpan(address, destination.Length, out var span)) return false;
        span.CopyTo(destination);
        return true;
    }

    public bool TryWrite(GuestAddress address, ReadOnlySpan<byte> source)
    {
        if (!TryGetSpan(address, source.Length, out var span)) return false;
        source.CopyTo(span);
        return true;
    }

    /// <summary>Reads a little-endian value (x86 guests are little-endian; so is every host we run on).</summary>
    public T Read<T>(GuestAddress address) where T : unmanaged =>
        MemoryMarshal.Read<T>(GetReadOnlySpan(address, Unsafe.SizeOf<T>()));

    public void Write<T>(GuestAddress address, T value) where T : unmanaged =>
        MemoryMarshal.Write(GetSpan(address, Unsafe.SizeOf<T>()), in value);

    /// <summary>Fills a range with zeros.</summary>
    public void Clear(GuestAddress address, int length) => GetSpan(address, length).Clear();

    /// <summary>Returns the pages of a page-aligned range to the host; they read back as zeros.</summary>
    public void Discard(GuestAddress address, ulong length)
    {
        if ((address.Value | length) % MemoryMap.PageSize != 0 || FindRegion(address.Value, length) is not { } region)
        {
            ThrowOutside(address, length);
            return;
        }
        region.Discard(address.Value, length);
        _writeLog?.Mark(address.Value, length);   // the pages now read as zero: a migration must send that too
    }

    private GuestRegion? FindRegion(ulong address, ulong length)
    {
        foreach (var region in _regions)
            if (region.Contains(address, length))
                return region;
        return null;
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void ThrowOutside(GuestAddress address, ulong length) => throw new GuestMemoryException(address, length);

    /// <summary>True once every region is unmapped (the owner disposed this memory).</summary>
    public bool IsReleased => _regions.All(r => r.IsReleased) && _firmware?.IsReleased != false;

    public void Dispose()
    {
        foreach (var region in _regions) region.Dispose();
        _firmware?.Dispose();
    }
}
