using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;

namespace KvmSharp.Machine.Console;

/// <summary>Blocking-with-timeout reads and best-effort writes on raw file descriptors, for the console backends.</summary>
internal static unsafe class FdIo
{
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
