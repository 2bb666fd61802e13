using System.Runtime.InteropServices;

namespace KvmSharp.Native.Sandbox;

/// <summary>
/// The kernel calls a process uses to confine itself: prctl(2) for no_new_privs, seccomp(2) and the three Landlock
/// calls (no glibc wrappers, so through syscall(2) by number), sigaction(2) and mprotect(2) for the SIGSYS reporter.
/// One declaration per call, no logic; errors come back as -1 with errno from <see cref="Marshal.GetLastPInvokeError"/>.
/// </summary>
public static unsafe partial class SandboxImports
{
    private const string Lib = "libc";

    [LibraryImport(Lib, EntryPoint = "prctl", SetLastError = true)]
    public static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    /// <summary>syscall(2) with three integer or pointer arguments (variadic in C; on x86-64 they pass in registers alike).</summary>
    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    public static partial nint Syscall(nint number, nint arg1, nint arg2, nint arg3);

    [LibraryImport(Lib, EntryPoint = "sigaction", SetLastError = true)]
    public static partial int SigAction(int signal, SigAction* action, SigAction* old);

    [LibraryImport(Lib, EntryPoint = "mprotect", SetLastError = true)]
    public static partial int Mprotect(nint address, nuint length, int protection);

    /// <summary>seccomp(SECCOMP_SET_MODE_FILTER, flags, prog).</summary>
    public static int SeccompSetFilter(uint flags, SockFprog* program) =>
        (int)Syscall(SyscallNumbers.Of("seccomp"), SeccompConstants.SECCOMP_SET_MODE_FILTER, (nint)flags, (nint)program);

    /// <summary>landlock_create_ruleset(attr, size, flags): a ruleset fd, or with LANDLOCK_CREATE_RULESET_VERSION the ABI version.</summary>
    public static int LandlockCreateRuleset(LandlockRulesetAttr* attr, nuint size, uint flags) =>
        (int)Syscall(SyscallNumbers.Of("landlock_create_ruleset"), (nint)attr, (nint)size, (nint)flags);

    /// <summary>landlock_add_rule(ruleset, LANDLOCK_RULE_PATH_BENEATH, attr, 0).</summary>
    public static int LandlockAddPathRule(int rulesetFd, LandlockPathBeneathAttr* attr) =>
        (int)Syscall4(SyscallNumbers.Of("landlock_add_rule"), rulesetFd, LandlockConstants.LANDLOCK_RULE_PATH_BENEATH, (nint)attr, 0);

    public static int LandlockRestrictSelf(int rulesetFd) =>
        (int)Syscall(SyscallNumbers.Of("landlock_restrict_self"), rulesetFd, 0, 0);

    [LibraryImport(Lib, EntryPoint = "syscall", SetLastError = true)]
    private static partial nint Syscall4(nint number, nint arg1, nint arg2, nint arg3, nint arg4);
}

/// <summary>struct sock_filter (linux/filter.h): one classic BPF instruction.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct SockFilter(ushort code, byte jumpTrue, byte jumpFalse, uint k)
{
    public ushort Code = code;
    public byte JumpTrue = jumpTrue;
    public byte JumpFalse = jumpFalse;
    public uint K = k;
}

/// <summary>struct sock_fprog: the program's length in instructions and where they are.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SockFprog
{
    public ushort Length;
    public SockFilter* Filter;
}

/// <summary>glibc's struct sigaction on x86-64 (152 bytes): handler, 1024-bit mask, flags, restorer.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct SigAction
{
    public nint Handler;
    public fixed ulong Mask[16];
    public int Flags;
    public nint Restorer;
}

/// <summary>struct landlock_ruleset_attr, first field only (ABI 1: filesystem rights; network and scopes are left unhandled).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct LandlockRulesetAttr
{
    public ulong HandledAccessFs;
}

/// <summary>struct landlock_path_beneath_attr, packed (12 bytes).</summary>
[StructLayout(LayoutKind.Sequential, Pack = 1)]
public struct LandlockPathBeneathAttr
{
    public ulong AllowedAccess;
    public int ParentFd;
}

/// <summary>Constants of linux/seccomp.h, linux/filter.h, linux/audit.h and linux/prctl.h.</summary>
public static class SeccompConstants
{
    public const int PR_SET_NO_NEW_PRIVS = 38;
    public const int PR_GET_SECCOMP = 21;
    public const int SECCOMP_SET_MODE_FILTER = 1;
    public const uint SECCOMP_FILTER_FLAG_TSYNC = 1;
    public const uint SECCOMP_FILTER_FLAG_LOG = 2;

    public const uint SECCOMP_RET_KILL_PROCESS = 0x80000000;
    public const uint SECCOMP_RET_TRAP = 0x00030000;
    public const uint SECCOMP_RET_ERRNO = 0x00050000;
    public const uint SECCOMP_RET_LOG = 0x7ffc0000;
    public const uint SECCOMP_RET_ALLOW = 0x7fff0000;

    /// <summary>AUDIT_ARCH_X86_64: EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.</summary>
    public const uint AUDIT_ARCH_X86_64 = 0xC000003E;

    /// <summary>__X32_SYSCALL_BIT: x32 calls arrive with the x86-64 arch and this bit set in the number.</summary>
    public const uint X32_SYSCALL_BIT = 0x40000000;

    /// <summary>Offsets in struct seccomp_data: nr, arch, instruction_pointer, args[6].</summary>
    public const uint DataNr = 0, DataArch = 4, DataArgs = 16;

    public const ushort BPF_LD_W_ABS = 0x20, BPF_JMP_JEQ_K = 0x15, BPF_JMP_JGE_K = 0x35, BPF_JMP_JSET_K = 0x45, BPF_RET_K = 0x06, BPF_JMP_JA = 0x05;
    public const ushort BPF_ALU_AND_K = 0x54;

    public const int SIGSYS = 31;
    public const int SA_SIGINFO = 4;
    public const int SA_ONSTACK = 0x08000000;
}

/// <summary>Constants of linux/landlock.h.</summary>
public static class LandlockConstants
{
    public const uint LANDLOCK_CREATE_RULESET_VERSION = 1;
    public const int LANDLOCK_RULE_PATH_BENEATH = 1;

    public const ulong Execute = 1, WriteFile = 2, ReadFile = 4, ReadDir = 8, RemoveDir = 16, RemoveFile = 32,
        MakeChar = 64, MakeDir = 128, MakeReg = 256, MakeSock = 512, MakeFifo = 1024, MakeBlock = 2048, MakeSym = 4096,
        Refer = 8192, Truncate = 16384, IoctlDev = 32768;

    /// <summary>Every filesystem right the kernel's ABI <paramref name="abi"/> can restrict (landlock.h's history).</summary>
    public static ulong HandledFor(int abi) => abi switch
    {
        <= 0 => 0,
        1 => 8191,
        2 => 8191 | Refer,
        3 or 4 => 8191 | Refer | Truncate,
        _ => 8191 | Refer | Truncate | IoctlDev,
    };

    /// <summary>The rights that can be given on a file (not a folder): the rest only make sense beneath a folder.</summary>
    public const ulong FileRights = Execute | WriteFile | ReadFile | Truncate | IoctlDev;
}
