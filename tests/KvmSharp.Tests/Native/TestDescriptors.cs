using System.Runtime.InteropServices;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Net;

namespace KvmSharp.Tests.Native;

/// <summary>Descriptors for the handle tests: socket pairs, dup/dup2, and which file a number names now.</summary>
internal static unsafe partial class TestDescriptors
{
    /// <summary>A connected pair of AF_UNIX sockets (SOCK_SEQPACKET keeps frames whole), non-blocking, close-on-exec.</summary>
    public static (FileDescriptor A, FileDescriptor B) SocketPair(int type = NetImports.SOCK_SEQPACKET)
    {
        int* fds = stackalloc int[2];
        if (NetImports.SocketPair(NetImports.AF_UNIX, type | NetImports.SOCK_NONBLOCK | NetImports.SOCK_CLOEXEC, 0, fds) != 0)
            throw new NativeException("socketpair", Marshal.GetLastPInvokeError());
        return (new FileDescriptor(fds[0]), new FileDescriptor(fds[1]));
    }

    /// <summary>The number a handle has now (for the test's own bookkeeping; nothing is called with it).</summary>
    public static int NumberOf(SafeHandle handle)
    {
        using var lease = new HandleLease(handle);
        return lease.Number;
    }

    /// <summary>Whether <paramref name="number"/> is an open descriptor of this process.</summary>
    public static bool IsOpen(int number) => Fcntl(number, FGetFd) >= 0;

    private const int FGetFd = 1;

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    private static partial int Fcntl(int fd, int command);

    [LibraryImport("libc", EntryPoint = "dup", SetLastError = true)]
    public static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "dup2", SetLastError = true)]
    public static partial int Dup2(int oldFd, int newFd);
}
