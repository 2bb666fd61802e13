using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;

namespace KvmSharp.Native.Net;

/// <summary>
/// Byte-stream socket I/O that never blocks and never raises SIGPIPE, whatever the descriptor's own mode:
/// recv(2) with MSG_DONTWAIT, send(2) with MSG_DONTWAIT | MSG_NOSIGNAL, and a poll(2) for writability. One
/// thread may read while another writes (a socket is full duplex). Allocation-free. Each call leases the socket's
/// handle (<see cref="HandleLease"/>), so one closed meanwhile is closed after the call, and one already closed
/// answers -EBADF, as its descriptor would have, never some other file's bytes.
/// </summary>
public static unsafe partial class StreamIo
{
    private const int MsgDontWait = 0x40, MsgNoSignal = 0x4000;
    private const int ECONNRESET = 104, EBADF = 9;

    /// <summary>Reads what is there, up to <paramref name="buffer"/>'s length: the count, 0 when nothing is waiting, -ECONNRESET at end of stream, or -errno.</summary>
    public static int Receive(SafeHandle socket, Span<byte> buffer)
    {
        if (!HandleLease.TryTake(socket, out var lease)) return -EBADF;
        using var held = lease;
        while (true)
        {
            nint n;
            fixed (byte* p = buffer) n = Recv(lease.Number, p, (nuint)buffer.Length, MsgDontWait);
            if (n > 0) return (int)n;
            if (n == 0) return buffer.Length == 0 ? 0 : -ECONNRESET;   // the peer closed its end
            int errno = Marshal.GetLastPInvokeError();
            if (errno == LibcConstants.EINTR) continue;
            return errno == LibcConstants.EAGAIN ? 0 : -errno;
        }
    }

    /// <summary>Writes what fits now: the count (0 when the socket is full), or -errno.</summary>
    public static int Send(SafeHandle socket, ReadOnlySpan<byte> data)
    {
        if (!HandleLease.TryTake(socket, out var lease)) return -EBADF;
        using var held = lease;
        while (true)
        {
            nint n;
            fixed (byte* p = data) n = SendNative(lease.Number, p, (nuint)data.Length, MsgDontWait | MsgNoSignal);
            if (n >= 0) return (int)n;
            int errno = Marshal.GetLastPInvokeError();
            if (errno == LibcConstants.EINTR) continue;
            return errno == LibcConstants.EAGAIN ? 0 : -errno;
        }
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> for room to write (or an error or hang-up, which the next send reports): true when there is.</summary>
    public static bool WaitWritable(SafeHandle socket, int timeoutMs)
    {
        return HandlePoll.Wait(socket, LibcConstants.POLLOUT, timeoutMs) > 0;
    }

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(int fd, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint SendNative(int fd, byte* buffer, nuint length, int flags);
}
