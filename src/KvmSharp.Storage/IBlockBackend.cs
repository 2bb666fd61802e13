namespace KvmSharp.Storage;

/// <summary>
/// The host side of a block device: a flat array of bytes the size of the disk. The virtio-blk
/// request parser turns guest requests into these calls; every offset and length is checked here
/// again, so a hostile request becomes a <see cref="BlockRequestException"/>, never a crash.
/// Implementations serialize their own calls (one device worker may share a backend).
/// </summary>
public interface IBlockBackend : IDisposable
{
    /// <summary>Disk size in bytes as the guest sees it.</summary>
    long Size { get; }

    /// <summary>True when writes, discards and zeroing are refused.</summary>
    bool ReadOnly { get; }

    /// <summary>Fills <paramref name="destination"/> from the disk at <paramref name="offset"/>.</summary>
    void Read(long offset, Span<byte> destination);

    /// <summary>Stores <paramref name="source"/> on the disk at <paramref name="offset"/>.</summary>
    void Write(long offset, ReadOnlySpan<byte> source);

    /// <summary>Makes every completed write durable (virtio-blk FLUSH → fdatasync).</summary>
    void Flush();

    /// <summary>Tells the backend the range's contents no longer matter (virtio-blk DISCARD); reads of it may return anything.</summary>
    void Discard(long offset, long length);

    /// <summary>Makes the range read back as zeros (virtio-blk WRITE_ZEROES).</summary>
    void WriteZeroes(long offset, long length);

    /// <summary>
    /// Hands the image over to another process (the last step of a live migration, disks being shared): every
    /// completed write made durable, then this process's write lock dropped so the other may open the image.
    /// Nothing may be written until <see cref="ReacquireLock"/>. A read-only image holds only a shared lock: nothing to do.
    /// </summary>
    void ReleaseLock();

    /// <summary>Takes the image back after a handover that did not happen; an <see cref="IOException"/> when another process holds it now.</summary>
    void ReacquireLock();
}
