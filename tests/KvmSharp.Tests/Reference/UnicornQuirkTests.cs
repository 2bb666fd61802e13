using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Reference;

/// <summary>
/// Pins the places where Unicorn 2.0.1 (Debian's libunicorn2) differs from the Intel SDM, listed in
/// README.md. The differential harness must steer around them; if a newer Unicorn fixes one, this fails
/// and README.md needs updating.
/// </summary>
public class UnicornQuirkTests
{
    private static ReferenceRun Run(Action<Assembler> emit, out ReferenceCpu cpu)
    {
        cpu = new ReferenceCpu(ReferenceMode.Long64);
        cpu.MapMemory(0, 0x10000);
        var a = new Assembler(64);
        emit(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), 0x1000);
        cpu.WriteMemory(0x1000, stream.ToArray());
        return cpu.Run(0x1000, 0x1000 + (ulong)stream.Length);
    }

    [Fact]
    public void PopcntRdrandAndAvxAreInvalidOnItsDefaultCpuModel()
    {
        // CPUID.1:ECX has SSE4.2 and CX16 but not POPCNT (bit 23), RDRAND, XSAVE or AVX.
        Assert.Equal(ReferenceOutcome.InvalidInstruction, Outcome(a => a.popcnt(rax, rbx)));
        Assert.Equal(ReferenceOutcome.InvalidInstruction, Outcome(a => a.rdrand(rax)));
        Assert.Equal(ReferenceOutcome.InvalidInstruction, Outcome(a => a.vpaddd(ymm0, ymm1, ymm2)));
        Assert.Equal(ReferenceOutcome.Completed, Outcome(a => { a.mov(rdi, 0x8000); a.cmpxchg16b(__xmmword_ptr[rdi]); }));
    }

    [Fact]
    public void SyscallAndPortIoDoNothingWithoutHooks()
    {
        // SDM: SYSCALL with EFER.SCE = 0 is #UD; IN reads the device. Unicorn advances RIP and IN reads 0.
        using (var _ = Cpu(out var cpu, a => a.syscall(), ReferenceOutcome.Completed))
            Assert.Equal(0UL, cpu.GetRegister(Gpr.Rcx));
        using (var _ = Cpu(out var cpu, a => { a.mov(eax, 0xFF); a.mov(dx, 0x3F8); a.@in(al, dx); }, ReferenceOutcome.Completed))
            Assert.Equal(0UL, cpu.GetRegister(Gpr.Rax));
    }

    [Fact]
    public void NonCanonicalAccessIsReadUnmappedNotGeneralProtection()
    {
        // SDM vol 3 §6.15 (#GP): a non-canonical data address faults with #GP(0); Unicorn reports an unmapped read.
        using var _ = Cpu(out var cpu, a => { a.mov(rax, 0x8000_0000_0000_0000); a.mov(rax, __[rax]); }, ReferenceOutcome.ReadUnmapped);
        Assert.Equal(0x100AUL, cpu.Rip);
    }

    [Fact]
    public void UndefinedFlagsFollowQemusFormulas()
    {
        // SHL by 2: OF is undefined (SDM vol 2 SAL/SAR/SHL/SHR); QEMU computes CF XOR MSB(result) for any count.
        using var _ = Cpu(out var cpu, a => { a.mov(rax, 0x4000_0000_0000_0000); a.shl(rax, 2); }, ReferenceOutcome.Completed);
        Assert.Equal(ReferenceState.CF | ReferenceState.OF, cpu.Rflags & (ReferenceState.CF | ReferenceState.OF));
    }

    private static ReferenceOutcome Outcome(Action<Assembler> emit)
    {
        var outcome = Run(emit, out var cpu).Outcome;
        cpu.Dispose();
        return outcome;
    }

    private static ReferenceCpu Cpu(out ReferenceCpu cpu, Action<Assembler> emit, ReferenceOutcome expected)
    {
        Assert.Equal(expected, Run(emit, out cpu).Outcome);
        return cpu;
    }
}
