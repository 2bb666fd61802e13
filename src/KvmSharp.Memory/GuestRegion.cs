using KvmSharp.Native.Libc;

namespace KvmSharp.Memory;

/// <summary>One contiguous range of guest RAM, backed by its own host mapping.</summary>
public sealed class GuestRegion : IDisposable
{
    private readonly MappedMemory _mapping;

    internal GuestRegion(GuestAddress start, ulong size)
    {
        Start = start;
        Size = size;
        _mapping = MappedMemory.Anonymous((nuint)size);
    }

    /// <summary>A region whose initial contents are <paramref name="size"/> bytes of a file from <paramref name="fileOffset"/>, copy-on-write.</summary>
    internal GuestRegion(GuestAddress start, ulong size, System.Runtime.InteropServices.SafeHandle file, ulong fileOffset)
    {
        Start = start;
        Size = size;
        _mapping = MappedMemory.PrivateFile(file, (nuint)size, (long)fileOffset);
        IsFileBacked = true;
    }

    /// <summary>
    /// The region's untouched pages come from a memory file (a restore), not from zero-filled anonymous memory:
    /// a page that is not resident may still hold data.
    /// </summary>
    internal bool IsFileBacked { get; }

    public GuestAddress Start { get; }

    public ulong Size { get; }

    /// <summary>One past the last byte.</summary>
    public ulong End => Start.Value + Size;

    /// <summary>
    /// The host address of the mapping. Only accelerators see it (to register a memory slot);
    /// devices go through <see cref="GuestMemory"/>.
    /// </summary>
    internal nint HostAddress => _mapping.Address;

    internal bool Contains(ulong address, ulong length) =>
        address >= Start.Value && length <= Size && address - Start.Value <= Size - length;

    internal unsafe Span<byte> SpanAt(ulong address, int length) =>
        new((byte*)_mapping.Address + (address - Start.Value), length);

    /// <summary>Tells the host it may drop the pages of a range (they read back as zero).</summary>
    internal void Discard(ulong address, ulong length)
    {
        int rc = LibcImports.Madvise(_mapping.Address + (nint)(address - Start.Value), (nuint)length, LibcConstants.MADV_DONTNEED);
        if (rc != 0)
            throw new NativeException("madvise(MADV_DONTNEED)", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
    }

    /// <summary>True once the mapping is unmapped.</summary>
    public bool IsReleased => _mapping.IsClosed;

    public void Dispose() => _mapping.Dispose();
}
