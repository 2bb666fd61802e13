using KvmSharp.Native.Sandbox;
using static KvmSharp.Native.Sandbox.SeccompConstants;

namespace KvmSharp.Machine.Sandbox;

/// <summary>
/// Builds a classic-BPF seccomp filter (kernel Documentation/userspace-api/seccomp_filter.rst) from an
/// allow-list. The program checks the architecture first (a 32-bit int 0x80 call carries another number space),
/// refuses x32 calls (the x86-64 arch with bit 30 set in the number), then tests each allowed call: a plain call is
/// two instructions (equal → ALLOW, else fall through), a call with an argument rule is a block that always
/// returns, so no jump is ever longer than a rule's own block (BPF jump offsets are 8-bit). Anything else gets
/// <see cref="DefaultAction"/>.
/// </summary>
public sealed class SeccompProgram
{
    private readonly List<SockFilter> _code = [];

    public SeccompProgram(uint defaultAction)
    {
        DefaultAction = defaultAction;
        Load(DataArch);
        _code.Add(new SockFilter(BPF_JMP_JEQ_K, 1, 0, AUDIT_ARCH_X86_64));
        _code.Add(new SockFilter(BPF_RET_K, 0, 0, defaultAction));
        Load(DataNr);
        _code.Add(new SockFilter(BPF_JMP_JGE_K, 0, 1, X32_SYSCALL_BIT));
        _code.Add(new SockFilter(BPF_RET_K, 0, 0, defaultAction));
    }

    /// <summary>What a call on no list gets: SECCOMP_RET_TRAP (reported, then the process exits) or SECCOMP_RET_LOG.</summary>
    public uint DefaultAction { get; }

    public int Length => _code.Count + 1;

    /// <summary>Allows <paramref name="syscall"/> whatever its arguments.</summary>
    public SeccompProgram Allow(string syscall)
    {
        _code.Add(new SockFilter(BPF_JMP_JEQ_K, 0, 1, (uint)SyscallNumbers.Of(syscall)));
        _code.Add(new SockFilter(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW));
        return this;
    }

    /// <summary>Gives <paramref name="syscall"/> a fixed action (e.g. ERRNO(ENOSYS) for clone3, whose flags live in memory BPF cannot read).</summary>
    public SeccompProgram Return(string syscall, uint action)
    {
        _code.Add(new SockFilter(BPF_JMP_JEQ_K, 0, 1, (uint)SyscallNumbers.Of(syscall)));
        _code.Add(new SockFilter(BPF_RET_K, 0, 0, action));
        return this;
    }

    /// <summary>Allows <paramref name="syscall"/> when the low 32 bits of argument <paramref name="argument"/> are one of <paramref name="values"/>.</summary>
    public SeccompProgram AllowWhenArgumentIs(string syscall, int argument, IReadOnlyList<uint> values, uint otherwise) =>
        Block(syscall, argument, otherwise, block =>
        {
            for (int i = 0; i < values.Count; i++)
            {
                block.Add(new SockFilter(BPF_JMP_JEQ_K, 0, 1, values[i]));
                block.Add(new SockFilter(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW));
            }
        });

    /// <summary>Allows <paramref name="syscall"/> when the low 32 bits of argument <paramref name="argument"/> have every bit of <paramref name="bits"/>.</summary>
    public SeccompProgram AllowWhenArgumentHas(string syscall, int argument, uint bits, uint otherwise) =>
        Block(syscall, argument, otherwise, block =>
        {
            block.Add(new SockFilter(BPF_ALU_AND_K, 0, 0, bits));
            block.Add(new SockFilter(BPF_JMP_JEQ_K, 0, 1, bits));
            block.Add(new SockFilter(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW));
        });

    /// <summary>Gives <paramref name="syscall"/> <paramref name="action"/> when argument <paramref name="argument"/>'s low 32 bits equal <paramref name="value"/>, and allows it otherwise.</summary>
    public SeccompProgram AllowUnlessArgumentIs(string syscall, int argument, uint value, uint action) =>
        Block(syscall, argument, SECCOMP_RET_ALLOW, block =>
        {
            block.Add(new SockFilter(BPF_JMP_JEQ_K, 0, 1, value));
            block.Add(new SockFilter(BPF_RET_K, 0, 0, action));
        });

    /// <summary>The finished program: the rules, then the default action.</summary>
    public SockFilter[] Build()
    {
        var program = new List<SockFilter>(_code) { new(BPF_RET_K, 0, 0, DefaultAction) };
        if (program.Count > 4096) throw new InvalidOperationException($"a seccomp program holds at most 4096 instructions; this one has {program.Count}");
        return [.. program];
    }

    /// <summary>A block for one call: "number equal, else skip the block", load the argument, the tests, then <paramref name="otherwise"/>; the block always returns.</summary>
    private SeccompProgram Block(string syscall, int argument, uint otherwise, Action<List<SockFilter>> tests)
    {
        if (argument is < 0 or > 5) throw new ArgumentOutOfRangeException(nameof(argument), "system calls have six arguments");
        var block = new List<SockFilter> { new(BPF_LD_W_ABS, 0, 0, DataArgs + (uint)(8 * argument)) };
        tests(block);
        block.Add(new SockFilter(BPF_RET_K, 0, 0, otherwise));
        if (block.Count > 255) throw new InvalidOperationException($"the rule for {syscall} is too long for one BPF jump");
        _code.Add(new SockFilter(BPF_JMP_JEQ_K, 0, (byte)block.Count, (uint)SyscallNumbers.Of(syscall)));
        _code.AddRange(block);
        return this;
    }

    private void Load(uint offset) => _code.Add(new SockFilter(BPF_LD_W_ABS, 0, 0, offset));
}
