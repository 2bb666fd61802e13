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
        RandomAccess.Write(_file, source, offset);
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
