using System.Runtime.InteropServices;

namespace KvmSharp.Native.Net;

/// <summary>The socket calls the network backends need, one declaration per native function.</summary>
public static unsafe partial class NetImports
{
    public const int AF_UNIX = 1, SOCK_SEQPACKET = 5, SOCK_NONBLOCK = 0x800, SOCK_CLOEXEC = 0x80000;

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);
}
