using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>A disk that is a plain file (or block device): guest byte N is file byte N.</summary>
public sealed class RawImage : IBlockBackend
{
    private static readonly byte[] ZeroChunk = new byte[64 * 1024];
    private readonly SafeFileHandle _file;

    public RawImage(string path, bool readOnly)
    {
        _file = DiskImage.OpenHandle(path, readOnly);
        ReadOnly = readOnly;
        Size = RandomAccess.GetLength(_file);
    }

    public long Size { get; }
    public bool ReadOnly { get; }

    public void Read(long offset, Span<byte> destination)
    {
        BlockRange.Check(offset, destination.Length, Size);
        HostFile.ReadFully(_file, offset, destination);
    }

    public void Write(long offset, ReadOnlySpan<byte> source)
    {
        BlockRange.CheckWritable(ReadOnly);
        BlockRange.Check(offset, source.Length, Size);
        if (offset < ImageSignatures.ProbeBytes && !source.IsEmpty) CheckSector0(offset, source);
        RandomAccess.Write(_file, source, offset);
    }

    /// <summary>
    /// Refuses a write that would make the disk start like another image format. Why every writable raw disk and not
    /// only a probed one (QEMU guards only probed raw images): a raw file that starts with a qcow2 header is refused
    /// as raw by <c>VirtioBlockDevice.Open</c> and read as qcow2 by anything that probes it, whose header may name
    /// any host file as its backing file; refusing the write keeps the disk raw for good. The cost: a guest cannot
    /// store an image file at sector 0 of its raw disk (a partition table or a file system there is plain data).
    /// </summary>
    private void CheckSector0(long offset, ReadOnlySpan<byte> source)
    {
        Span<byte> sector0 = stackalloc byte[ImageSignatures.ProbeBytes];
        int span = (int)Math.Min(sector0.Length, Size);
        HostFile.ReadFully(_file, 0, sector0[..span]);
        int n = (int)Math.Min(source.Length, sector0.Length - offset);
        source[..n].CopyTo(sector0[(int)offset..]);
        if (ImageSignatures.Recognize(sector0) is { } format)
            throw new BlockRequestException($"refused: the write would make the raw disk's first sector a {format} header");
    }

    public void ReleaseLock()
    {
        if (ReadOnly) return;
        HostFile.DataSync(_file);
        HostFile.Unlock(_file);
    }

    public void ReacquireLock()
    {
        if (ReadOnly) return;
        if (!HostFile.TryLockExclusive(_file)) throw new IOException("the image is in use by another process; it cannot be taken back");
    }

    public void Flush()
    {
        if (!ReadOnly) HostFile.DataSync(_file);
    }

    public void Discard(long offset, long length)
    {
        BlockRange.CheckWritable(ReadOnly);
        BlockRange.Check(offset, length, Size);
        // Discard is advisory: a file system without hole punching simply keeps the data.
        HostFile.TryPunchHole(_file, offset, length);
    }

    public void WriteZeroes(long offset, long length)
    {
        BlockRange.CheckWritable(ReadOnly);
        BlockRange.Check(offset, length, Size);
        if (HostFile.TryPunchHole(_file, offset, length)) return;
        for (long done = 0; done < length;)
        {
            int n = (int)Math.Min(ZeroChunk.Length, length - done);
            RandomAccess.Write(_file, ZeroChunk.AsSpan(0, n), offset + done);
            done += n;
        }
    }

    public void Dispose() => _file.Dispose();
}
