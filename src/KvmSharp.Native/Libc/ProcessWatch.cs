using System.Runtime.InteropServices;

namespace KvmSharp.Native.Libc;

/// <summary>
/// A pidfd (pidfd_open(2), Linux 5.3): a handle on one process that cannot come to mean another one when the pid
/// is reused, readable once that process has ended. The manager watches VMM processes it did not start (after
/// its own restart) this way; for its children it has their exit status as well.
/// </summary>
public sealed class ProcessWatch : IDisposable
{
    private const long SysPidfdOpen = 434;   // x86-64 (arch/x86/entry/syscalls/syscall_64.tbl)
    private const short PollIn = 0x1;
    private readonly FileDescriptor _fd;

    private ProcessWatch(FileDescriptor fd, int pid)
    {
        _fd = fd;
        Pid = pid;
    }

    public int Pid { get; }

    /// <summary>A watch on <paramref name="pid"/>, or null when no such process exists (any more).</summary>
    public static ProcessWatch? Open(int pid)
    {
        long fd = LibcImports.Syscall(SysPidfdOpen, pid, 0);
        if (fd >= 0) return new ProcessWatch(new FileDescriptor((int)fd), pid);
        int errno = Marshal.GetLastPInvokeError();
        if (errno == 3) return null;   // ESRCH
        throw new NativeException("pidfd_open", errno);
    }

    /// <summary>Waits up to <paramref name="timeoutMs"/> (-1: for ever) for the process to end; true once it has.</summary>
    public bool WaitForExit(int timeoutMs)
    {
        while (true)
        {
            int n = HandlePoll.Wait(_fd, PollIn, timeoutMs);
            if (n > 0) return true;
            if (n == 0)
            {
                ObjectDisposedException.ThrowIf(_fd.IsClosed, this);   // a disposed watch polls as nothing
                return false;
            }
            if (n != -LibcConstants.EINTR) throw new NativeException("poll(pidfd)", -n);
        }
    }

    public void Dispose() => _fd.Dispose();
}
