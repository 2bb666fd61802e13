using System.Buffers.Binary;
using KvmSharp.Machine.Sandbox;
using KvmSharp.Native.Sandbox;
using static KvmSharp.Native.Sandbox.SeccompConstants;

namespace KvmSharp.Tests.Machine.Sandbox;

/// <summary>
/// The VMM's seccomp filter run on a classic-BPF interpreter of the test's own (the kernel's rules for the
/// instructions the builder emits), against struct seccomp_data the way the kernel fills it: no process is
/// confined here. (The filter in a real process: Cli/SandboxProcessTests.)
/// </summary>
public sealed class SeccompPolicyTests
{
    private static readonly SockFilter[] Kill = SeccompPolicy.Build(SECCOMP_RET_TRAP);

    [Theory]
    [InlineData("ioctl")]
    [InlineData("futex")]
    [InlineData("openat")]
    [InlineData("mmap")]
    [InlineData("exit_group")]
    [InlineData("landlock_restrict_self")]
    public void ListedCallsAreAllowed(string call) =>
        Assert.Equal(SECCOMP_RET_ALLOW, Run(Kill, SyscallNumbers.Of(call)));

    [Theory]
    [InlineData("ptrace")]
    [InlineData("execve")]
    [InlineData("execveat")]
    [InlineData("fork")]
    [InlineData("vfork")]
    [InlineData("mount")]
    [InlineData("setuid")]
    [InlineData("bpf")]
    [InlineData("process_vm_writev")]
    [InlineData("init_module")]
    public void OtherCallsTrap(string call) =>
        Assert.Equal(SECCOMP_RET_TRAP, Run(Kill, SyscallNumbers.Of(call)));

    [Fact]
    public void AnotherArchitectureOrX32Traps()
    {
        Assert.Equal(SECCOMP_RET_TRAP, Run(Kill, SyscallNumbers.Of("read"), arch: 0x40000003 /* AUDIT_ARCH_I386 */));
        Assert.Equal(SECCOMP_RET_TRAP, Run(Kill, SyscallNumbers.Of("read") | (int)X32_SYSCALL_BIT));
    }

    [Fact]
    public void SocketIsAllowedForUnixAndInternetFamiliesOnly()
    {
        int socket = SyscallNumbers.Of("socket");
        Assert.Equal(SECCOMP_RET_ALLOW, Run(Kill, socket, 1, 1));
        Assert.Equal(SECCOMP_RET_ALLOW, Run(Kill, socket, 2, 1));
        Assert.Equal(SECCOMP_RET_ALLOW, Run(Kill, socket, 10, 1));
        Assert.Equal(SECCOMP_RET_TRAP, Run(Kill, socket, 17, 3));   // AF_PACKET
        Assert.Equal(SECCOMP_RET_TRAP, Run(Kill, socket, 16, 3));   // AF_NETLINK
    }

    [Fact]
    public void CloneMakesThreadsOnly()
    {
        int clone = SyscallNumbers.Of("clone");
        const ulong pthreadFlags = 0x3d0f00;   // glibc's pthread_create: VM|FS|FILES|SIGHAND|THREAD|SYSVSEM|SETTLS|PARENT_SETTID|CHILD_CLEARTID
        Assert.Equal(SECCOMP_RET_ALLOW, Run(Kill, clone, pthreadFlags));
        Assert.Equal(SECCOMP_RET_TRAP, Run(Kill, clone, 0x01200011));   // fork(): CHILD_SETTID|CHILD_CLEARTID|SIGCHLD
        Assert.Equal(SECCOMP_RET_ERRNO | 38, Run(Kill, SyscallNumbers.Of("clone3")));
    }

    [Fact]
    public void ReplacingTheSigsysHandlerKillsTheProcess()
    {
        int sigaction = SyscallNumbers.Of("rt_sigaction");
        Assert.Equal(SECCOMP_RET_KILL_PROCESS, Run(Kill, sigaction, (ulong)SIGSYS));
        Assert.Equal(SECCOMP_RET_ALLOW, Run(Kill, sigaction, 15));
    }

    [Fact]
    public void LogModeLogsWhatKillModeTraps()
    {
        var log = SeccompPolicy.Build(SECCOMP_RET_LOG);
        Assert.Equal(SECCOMP_RET_LOG, Run(log, SyscallNumbers.Of("ptrace")));
        Assert.Equal(SECCOMP_RET_LOG, Run(log, SyscallNumbers.Of("socket"), 17));
        Assert.Equal(SECCOMP_RET_ALLOW, Run(log, SyscallNumbers.Of("write")));
    }

    [Fact]
    public void TheReportNamesTheCall()
    {
        Assert.StartsWith("kvmsharp: the sandbox stopped the VMM: it made system call ptrace (101),", SigsysReporter.Line(101));
        Assert.Contains("another architecture", SigsysReporter.Line(null));
        Assert.EndsWith("\n", SigsysReporter.Line(0));
    }

    /// <summary>Runs <paramref name="program"/> over a seccomp_data (nr, arch, ip, args[6]) as the kernel's interpreter does.</summary>
    private static uint Run(SockFilter[] program, int nr, ulong arg0 = 0, ulong arg1 = 0, uint arch = AUDIT_ARCH_X86_64)
    {
        var data = new byte[64];
        BinaryPrimitives.WriteInt32LittleEndian(data, nr);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), arch);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16), arg0);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(24), arg1);
        uint a = 0;
        for (int pc = 0; pc < program.Length; pc++)
        {
            var op = program[pc];
            switch (op.Code)
            {
                case BPF_LD_W_ABS:
                    Assert.True(op.K % 4 == 0 && op.K < 64, $"load at {op.K}");
                    a = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan((int)op.K));
                    break;
                case BPF_ALU_AND_K: a &= op.K; break;
                case BPF_JMP_JEQ_K: pc += a == op.K ? op.JumpTrue : op.JumpFalse; break;
                case BPF_JMP_JGE_K: pc += a >= op.K ? op.JumpTrue : op.JumpFalse; break;
                case BPF_JMP_JSET_K: pc += (a & op.K) != 0 ? op.JumpTrue : op.JumpFalse; break;
                case BPF_RET_K: return op.K;
                default: Assert.Fail($"instruction {op.Code:x} at {pc} is not one the builder emits"); break;
            }
        }
        Assert.Fail("the program ran off its end");
        return 0;
    }
}
