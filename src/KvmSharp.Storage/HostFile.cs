using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace KvmSharp.Storage;

/// <summary>
/// The Linux file calls .NET does not expose: fdatasync (FLUSH must not pay for an inode timestamp
/// update the way fsync, and so FileStream.Flush(true), does) and fallocate for hole punching. Each takes the
/// SafeFileHandle itself: the marshaller holds a reference for the call, so a racing close waits for it.
/// </summary>
internal static partial class HostFile
{
    // linux/falloc.h
    private const int FallocKeepSize = 0x01;
    private const int FallocPunchHole = 0x02;

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    private static partial int FdataSync(SafeFileHandle fd);

    // sys/file.h
    private const int LockExclusive = 2, LockNonBlocking = 4, LockUnlock = 8;

    [LibraryImport("libc", EntryPoint = "flock", SetLastError = true)]
    private static partial int Flock(SafeFileHandle fd, int operation);

    [LibraryImport("libc", EntryPoint = "fallocate", SetLastError = true)]
    private static partial int Fallocate(SafeFileHandle fd, int mode, long offset, long length);

    public static void DataSync(SafeFileHandle handle)
    {
        int result = FdataSync(handle);
        if (result != 0)
            throw new IOException($"fdatasync failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>
    /// Drops this process's flock on the image (the exclusive lock a writable open takes), so another process may
    /// open it for writing: live migration's handover of a shared disk, as QEMU inactivates its images.
    /// </summary>
    public static void Unlock(SafeFileHandle handle)
    {
        if (Flock(handle, LockUnlock) != 0)
            throw new IOException($"flock(LOCK_UN) failed (errno {Marshal.GetLastPInvokeError()})");
    }

    /// <summary>Takes the exclusive lock back; false when another process holds the image now.</summary>
    public static bool TryLockExclusive(SafeFileHandle handle) =>
        Flock(handle, LockExclusive | LockNonBlocking) == 0;

    /// <summary>Deallocates a range, keeping the size; later reads give zeros. False when the file system cannot.</summary>
    public static bool TryPunchHole(SafeFileHandle handle, long offset, long length) =>
        length == 0 || Fallocate(handle, FallocPunchHole | FallocKeepSize, offset, length) == 0;

    /// <summary>Reads exactly destination.Length bytes; bytes past the end of the file read as zeros.</summary>
    public static void ReadFully(SafeFileHandle handle, long offset, Span<byte> destination)
    {
        while (!destination.IsEmpty)
        {
            int n = RandomAccess.Read(handle, destination, offset);
            if (n == 0) { destination.Clear(); return; }
            destination = destination[n..];
            offset += n;
        }
    }
}
