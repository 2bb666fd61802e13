using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;

namespace KvmSharp.Native.Net;

/// <summary>
/// One frame per read or write on a non-blocking descriptor that keeps message boundaries (a tap, or a
/// SOCK_SEQPACKET socket in tests). Allocation-free. Each call leases the handle (<see cref="HandleLease"/>): one
/// closed meanwhile is closed after the call, and one already closed answers -EBADF, never another file's bytes.
/// </summary>
public static unsafe class FrameIo
{
    private const int EIO = 5, EBADF = 9;

    /// <summary>Reads one frame into <paramref name="buffer"/>: its length, 0 when none is waiting (EAGAIN), or -errno.</summary>
    public static int Read(FileDescriptor fd, Span<byte> buffer)
    {
        if (!HandleLease.TryTake(fd, out var lease)) return -EBADF;
        using var held = lease;
        while (true)
        {
            nint n;
            fixed (byte* p = buffer) n = LibcImports.Read(lease.Number, p, (nuint)buffer.Length);
            if (n >= 0) return (int)n;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == LibcConstants.EINTR) continue;
            return errno == LibcConstants.EAGAIN ? 0 : -errno;
        }
    }

    /// <summary>Writes one frame whole: 0, or -errno (EAGAIN included: the caller drops the frame, as a full NIC queue does).</summary>
    public static int Write(FileDescriptor fd, ReadOnlySpan<byte> frame)
    {
        if (!HandleLease.TryTake(fd, out var lease)) return -EBADF;
        using var held = lease;
        while (true)
        {
            nint n;
            fixed (byte* p = frame) n = LibcImports.Write(lease.Number, p, (nuint)frame.Length);
            if (n == frame.Length) return 0;
            if (n >= 0) return -EIO;   // a tap or a seqpacket socket takes a frame whole or not at all
            int errno = Marshal.GetLastPInvokeError();
            if (errno != LibcConstants.EINTR) return -errno;
        }
    }
}
