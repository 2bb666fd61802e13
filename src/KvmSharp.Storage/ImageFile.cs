using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>
/// The host file under a qcow2 image: every read, write, fdatasync and hole punch the image makes goes through here,
/// so the crash tests can record the order of writes and syncs and rebuild what a crash at any point leaves behind.
/// </summary>
internal class ImageFile(SafeFileHandle handle) : IDisposable
{
    public SafeFileHandle Handle { get; } = handle;

    public long Length => RandomAccess.GetLength(Handle);

    public virtual void Read(long offset, Span<byte> destination) => HostFile.ReadFully(Handle, offset, destination);

    public virtual void Write(long offset, ReadOnlySpan<byte> data) => RandomAccess.Write(Handle, data, offset);

    /// <summary>fdatasync: every write before it is durable before any write after it.</summary>
    public virtual void Sync() => HostFile.DataSync(Handle);

    public virtual bool TryPunchHole(long offset, long length) => HostFile.TryPunchHole(Handle, offset, length);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing) Handle.Dispose();
    }
}
