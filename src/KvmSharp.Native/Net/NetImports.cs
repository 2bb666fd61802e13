using System.Runtime.InteropServices;

namespace KvmSharp.Native.Net;

/// <summary>The socket calls the network backends need, one declaration per native function.</summary>
public static unsafe partial class NetImports
{
    public const int AF_UNIX = 1, SOCK_SEQPACKET = 5, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;

    /// <summary>setns(2) nstype for a network namespace.</summary>
    public const int CLONE_NEWNET = 0x40000000;

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    /// <summary>setns(2): moves the calling thread (only) into the namespace <paramref name="fd"/> refers to.</summary>
    [LibraryImport("libc", EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNs(int fd, int nstype);
}
