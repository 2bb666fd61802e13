using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;

namespace KvmSharp.Machine.Console;

/// <summary>
/// Blocking-with-timeout reads and best-effort writes, for the console backends: on a handle we own (leased for the
/// call, so the console thread racing a Dispose never reaches a file that reused the number; a closed one reads as
/// end of input and takes no writes), or on stdin/stdout, which no handle owns and which live as long as the process.
/// </summary>
internal static unsafe class FdIo
{
    /// <summary><see cref="WriteAll(int, ReadOnlySpan{byte})"/> on a handle; nothing once it is closed.</summary>
    public static void WriteAll(SafeHandle handle, ReadOnlySpan<byte> bytes)
    {
        if (!HandleLease.TryTake(handle, out var lease)) return;
        using (lease) WriteAll(lease.Number, bytes);
    }

    /// <summary><see cref="Read(int, Span{byte}, int)"/> on a handle; -1 (end of input) once it is closed.</summary>
    public static int Read(SafeHandle handle, Span<byte> buffer, int timeoutMs)
    {
        if (!HandleLease.TryTake(handle, out var lease)) return -1;
        using (lease) return Read(lease.Number, buffer, timeoutMs);
    }

    /// <summary>Writes everything unless the fd is non-blocking and full (then the rest is dropped: a console nobody reads must not stall the guest).</summary>
    public static void WriteAll(int fd, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
        {
            int done = 0;
            while (done < bytes.Length)
            {
                nint n = LibcImports.Write(fd, p + done, (nuint)(bytes.Length - done));
                if (n > 0) { done += (int)n; continue; }
                if (n < 0 && Marshal.GetLastPInvokeError() == LibcConstants.EINTR) continue;
                return;
            }
        }
    }

    /// <summary>poll + read: bytes read, 0 on timeout, -1 at end of input or on error.</summary>
    public static int Read(int fd, Span<byte> buffer, int timeoutMs)
    {
        var pfd = new PollFd { Fd = fd, Events = LibcConstants.POLLIN };
        int ready = LibcImports.Poll(&pfd, 1, timeoutMs);
        if (ready == 0) return 0;
        if (ready < 0) return Marshal.GetLastPInvokeError() == LibcConstants.EINTR ? 0 : -1;
        fixed (byte* p = buffer)
        {
            nint n = LibcImports.Read(fd, p, (nuint)buffer.Length);
            if (n > 0) return (int)n;
            if (n < 0 && Marshal.GetLastPInvokeError() is LibcConstants.EINTR or LibcConstants.EAGAIN) return 0;
            return -1;
        }
    }
}
