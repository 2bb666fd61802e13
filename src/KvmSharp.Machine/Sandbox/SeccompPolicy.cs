using KvmSharp.Native.Sandbox;
using static KvmSharp.Native.Sandbox.SeccompConstants;

namespace KvmSharp.Machine.Sandbox;

/// <summary>
/// The system calls a confined VMM may make, and the filter made from them.
///
/// One list for the whole process, installed with SECCOMP_FILTER_FLAG_TSYNC, so the threads that exist already
/// (the .NET runtime's GC, finalizer, thread pool and timer threads, the API and console threads) get it at once
/// and every thread created later inherits it. Narrower per-thread lists were tried on paper and left out: a
/// seccomp filter passes to every thread its thread creates, and in .NET any thread that completes a Task may
/// create a thread-pool worker, and a vCPU thread also rebuilds the whole machine at a guest reset
/// (MachineController.OnBootEnded runs on the thread that ends the boot) and starts device threads at
/// DRIVER_OK. A vCPU list narrow enough to matter would pass to pool threads that later serve the API or a
/// reboot and kill the VMM at random. (Firecracker can keep per-thread lists because its threads never create
/// others.) The list is therefore what all of them need together, built from `strace -f -c` of real runs
/// (default guest boot, virtio-blk/net/fs/vsock/rng, pause/resume, snapshot and restore, migration, reboot; KVM
/// and the software CPU), with argument rules where the argument decides the danger.
/// </summary>
public static class SeccompPolicy
{
    /// <summary>Calls allowed with any arguments.</summary>
    public static IReadOnlyList<string> Allowed { get; } =
    [
        // The hot paths first (the filter is a linear list): KVM_RUN and device I/O, locks, polling.
        "ioctl", "futex", "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2", "pwritev2",
        "poll", "ppoll", "epoll_wait", "epoll_pwait", "epoll_ctl", "epoll_create1", "sched_yield", "clock_gettime", "clock_nanosleep", "nanosleep",
        "tgkill", "rt_sigtimedwait", "rt_sigprocmask", "rt_sigreturn", "getrandom", "gettid", "getpid",
        // Memory: guest RAM, the runtime's heap, the translator's code cache; membarrier is the runtime's FlushProcessWriteBuffers.
        "mmap", "munmap", "mprotect", "madvise", "mremap", "membarrier", "mincore",
        // Threads (clone is below with its flags rule).
        "set_robust_list", "rseq", "exit", "exit_group", "sigaltstack", "sched_getaffinity", "prctl", "getrusage", "getcpu", "times",
        // Files: disk images, snapshot and migration files, virtio-fs (Landlock decides which paths).
        "open", "openat", "openat2", "close", "lseek", "fstat", "newfstatat", "statx", "fstatfs", "statfs", "readlinkat", "getdents64",
        "access", "faccessat", "faccessat2", "fcntl", "dup", "dup3", "pipe2", "eventfd2", "memfd_create", "flock",
        "fsync", "fdatasync", "fallocate", "ftruncate", "mkdirat", "unlinkat", "renameat", "renameat2", "linkat", "symlinkat",
        "fchmod", "fchmodat", "fadvise64", "copy_file_range", "sendfile",
        // The same through the older calls glibc and .NET's native shim still make for some of them.
        "stat", "lstat", "unlink", "rmdir", "mkdir", "rename", "link", "symlink", "chmod", "readlink", "pipe", "dup2", "select", "pselect6", "fchown", "fchownat", "utimensat", "mknodat", "getcwd", "umask", "name_to_handle_at", "open_by_handle_at",
        // Sockets: the API, consoles, vsock, passt, migration (socket itself is below with its domain rule).
        "socketpair", "connect", "accept", "accept4", "bind", "listen", "sendto", "recvfrom", "sendmsg", "recvmsg", "shutdown",
        "getsockopt", "setsockopt", "getsockname", "getpeername",
        // Processes: passt is our child (reaped, signalled at the end); identity and limits for the runtime.
        "wait4", "waitid", "kill", "pidfd_open", "pidfd_send_signal", "getuid", "geteuid", "getgid", "getegid", "getppid", "uname", "sysinfo", "getrlimit", "prlimit64",
        "timerfd_create", "timerfd_settime", "clock_getres", "gettimeofday",
        // A thread that joins the process's Landlock domain late (the API's accept thread) can only narrow itself.
        "landlock_restrict_self",
    ];

    /// <summary>Address families socket(2) may create: Unix sockets (API, consoles, vsock, passt), TCP for migration.</summary>
    public static IReadOnlyList<uint> SocketFamilies { get; } = [1 /* AF_UNIX */, 2 /* AF_INET */, 10 /* AF_INET6 */];

    /// <summary>CLONE_THREAD: clone may make threads, never processes.</summary>
    public const uint CloneThread = 0x00010000;

    private const uint ENOSYS = 38;

    /// <summary>The filter: refused calls get <paramref name="defaultAction"/> (SECCOMP_RET_TRAP or SECCOMP_RET_LOG).</summary>
    public static SockFilter[] Build(uint defaultAction)
    {
        var program = new SeccompProgram(defaultAction);
        foreach (string name in Allowed) program.Allow(name);
        program.AllowWhenArgumentIs("socket", 0, SocketFamilies, defaultAction);
        program.AllowWhenArgumentHas("clone", 0, CloneThread, defaultAction);
        // clone3 passes its flags in memory BPF cannot read: ENOSYS makes glibc fall back to clone (glibc's
        // pthread_create and Chromium's and Firecracker's sandboxes rely on the same fallback).
        program.Return("clone3", SECCOMP_RET_ERRNO | ENOSYS);
        // The SIGSYS reporter must stay: replacing its handler ends the process at once (KILL_PROCESS ranks above
        // everything, so no handler could soften it).
        program.AllowUnlessArgumentIs("rt_sigaction", 0, SIGSYS, defaultAction == SECCOMP_RET_LOG ? SECCOMP_RET_LOG : SECCOMP_RET_KILL_PROCESS);
        return program.Build();
    }
}
