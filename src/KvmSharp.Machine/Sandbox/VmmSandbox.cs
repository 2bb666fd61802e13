using System.Runtime.InteropServices;
using KvmSharp.Machine.Config;
using KvmSharp.Native.Libc;
using KvmSharp.Native.Sandbox;

namespace KvmSharp.Machine.Sandbox;

/// <summary>
/// Confines the VMM process right before its guest first runs, when every file, device, socket, tap and mapping
/// is open: no_new_privs (prctl(2): nothing it executes can gain privileges, and the precondition for an
/// unprivileged seccomp filter and Landlock domain), then Landlock (the filesystem narrowed to the machine's files,
/// <see cref="SandboxPaths"/>; where the kernel lacks it, one notice and on), then the seccomp filter
/// (<see cref="SeccompPolicy"/>, on every thread). Done once per process: a guest reset boots again inside it.
/// </summary>
public static unsafe class VmmSandbox
{
    private static readonly Lock s_lock = new();
    private static FileDescriptor? s_landlockDomain;
    private static bool s_applied;

    [ThreadStatic] private static bool t_joined;

    /// <summary>True once <see cref="Apply"/> has confined this process.</summary>
    public static bool Applied { get { lock (s_lock) return s_applied; } }

    /// <summary>Confines the process (the calling thread's Landlock domain, every thread's seccomp filter). Throws <see cref="SandboxException"/> in one line.</summary>
    public static void Apply(MachineConfig config, SandboxOptions options, Action<string> notices)
    {
        lock (s_lock)
        {
            if (s_applied || !options.Enabled) return;
            WarmUpLazyLibraries();
            if (SandboxImports.Prctl(SeccompConstants.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
                throw new SandboxException($"prctl(PR_SET_NO_NEW_PRIVS) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            int abi = LandlockRuleset.AbiVersion();
            if (abi == 0)
            {
                if (Environment.GetEnvironmentVariable("KVMSHARP_VERBOSE") == "1")
                    notices("kvmsharp: this kernel has no Landlock; the sandbox confines the VMM with seccomp and no_new_privs only");
            }
            else
            {
                try
                {
                    s_landlockDomain = LandlockRuleset.Create(abi, SandboxPaths.For(config, options.ApiSocket));
                    LandlockRuleset.RestrictCurrentThread(s_landlockDomain);
                    t_joined = true;
                }
                catch (NativeException e)
                {
                    throw new SandboxException($"Landlock could not confine the VMM: {e.Message}");
                }
            }
            uint action = options.Seccomp == SeccompMode.Kill ? SeccompConstants.SECCOMP_RET_TRAP : SeccompConstants.SECCOMP_RET_LOG;
            if (options.Seccomp == SeccompMode.Kill) SigsysReporter.Install();
            var filter = SeccompPolicy.Build(action);
            fixed (SockFilter* code = filter)
            {
                var program = new SockFprog { Length = (ushort)filter.Length, Filter = code };
                int result = SandboxImports.SeccompSetFilter(SeccompConstants.SECCOMP_FILTER_FLAG_TSYNC, &program);
                if (result != 0)
                    throw new SandboxException(result > 0
                        ? $"the seccomp filter could not be put on thread {result}, which has another filter"
                        : $"seccomp(SECCOMP_SET_MODE_FILTER) failed: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
            }
            s_applied = true;
        }
    }

    /// <summary>
    /// Makes the runtime load now what it loads on first use, while every file is still reachable: .NET's
    /// cryptography dlopens libssl/libcrypto and reads openssl.cnf at its first hash (a snapshot's SHA-256), and
    /// a process that cannot load them aborts ("No usable version of libssl was found"), which no exception handler
    /// sees. The library folders stay readable too (<see cref="SandboxPaths"/>), for anything loaded later.
    /// </summary>
    private static void WarmUpLazyLibraries() => System.Security.Cryptography.SHA256.HashData(ReadOnlySpan<byte>.Empty);

    /// <summary>
    /// Puts the calling thread into the process's Landlock domain, once per thread; nothing before
    /// <see cref="Apply"/> or without Landlock. Landlock (ABI ≤ 7) confines the calling thread and the threads it
    /// creates later, not threads that exist already: a long-lived thread that creates others after the sandbox
    /// closes (the API's accept thread, before each client thread) calls this so its children are confined too.
    /// </summary>
    public static void JoinCurrentThread()
    {
        if (t_joined) return;
        FileDescriptor? domain;
        lock (s_lock) domain = s_landlockDomain;
        if (domain is null) return;
        LandlockRuleset.RestrictCurrentThread(domain);
        t_joined = true;
    }
}

/// <summary>The sandbox could not be set up: one line for the user.</summary>
public sealed class SandboxException(string message) : Exception(message);
