using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Reference;

/// <summary>
/// The reference CPU wrapper against values worked out from the Intel SDM by hand. Without libunicorn2
/// these fail (ReferenceCpuUnavailableException: "install libunicorn2"), never skip.
/// </summary>
public class ReferenceCpuTests
{
    private const ulong Code = 0x1000, Data = 0x8000;

    /// <summary>A CPU with code at 0x1000 and data at 0x8000, one 64 KiB mapping.</summary>
    private static ReferenceCpu NewCpu(ReferenceMode mode)
    {
        var cpu = new ReferenceCpu(mode);
        cpu.MapMemory(0, 0x10000);
        return cpu;
    }

    /// <summary>Assembles at Code and writes it there; returns the address after the last instruction.</summary>
    private static ulong Load(ReferenceCpu cpu, int bitness, Action<Assembler> emit)
    {
        var a = new Assembler(bitness);
        emit(a);
        using var stream = new MemoryStream();
        a.Assemble(new StreamCodeWriter(stream), Code);
        cpu.WriteMemory(Code, stream.ToArray());
        return Code + (ulong)stream.Length;
    }

    [Theory]
    // 1 + 2 = 3: two bits set in the low byte → PF.
    [InlineData(1UL, 2UL, 3UL, PF)]
    // Carry out of bit 63 and out of bit 3; zero result (even parity).
    [InlineData(ulong.MaxValue, 1UL, 0UL, CF | ZF | PF | AF)]
    // Signed overflow: positive + positive = negative.
    [InlineData(0x7FFF_FFFF_FFFF_FFFFUL, 1UL, 0x8000_0000_0000_0000UL, OF | SF | AF | PF)]
    public void Add64SetsValueAndFlags(ulong x, ulong y, ulong sum, ulong flags)
    {
        using var cpu = NewCpu(ReferenceMode.Long64);
        ulong end = Load(cpu, 64, a => a.add(rax, rbx));
        cpu.SetRegister(Gpr.Rax, x);
        cpu.SetRegister(Gpr.Rbx, y);

        var run = cpu.Run(Code, end);

        Assert.Equal(new ReferenceRun(ReferenceOutcome.Completed, end), run);
        Assert.Equal(sum, cpu.GetRegister(Gpr.Rax));
        Assert.Equal(DescribeFlags(flags), DescribeFlags(cpu.Rflags & ArithmeticFlags));
    }

    [Theory]
    // IMUL r64, r/m64 sets CF = OF = 1 when the signed product does not fit 64 bits (SDM vol 2 IMUL);
    // SF ZF AF PF are undefined, so only CF and OF are checked.
    [InlineData(0x1_0000_0000L, 0x1_0000_0000L, 0L, true)]
    [InlineData(-3L, 7L, -21L, false)]
    public void Imul64SetsCarryAndOverflowOnSignedOverflow(long x, long y, long product, bool overflow)
    {
        using var cpu = NewCpu(ReferenceMode.Long64);
        ulong end = Load(cpu, 64, a => a.imul(rax, rbx));
        cpu.SetRegister(Gpr.Rax, (ulong)x);
        cpu.SetRegister(Gpr.Rbx, (ulong)y);

        Assert.Equal(ReferenceOutcome.Completed, cpu.Run(Code, end).Outcome);
        Assert.Equal((ulong)product, cpu.GetRegister(Gpr.Rax));
        Assert.Equal(overflow ? CF | OF : 0, cpu.Rflags & (CF | OF));
    }

    [Fact]
    public void DivideByZeroIsDivideErrorAtTheDivInstruction()
    {
        using var cpu = NewCpu(ReferenceMode.Long64);
        const ulong div = Code + 4; // after two 2-byte xors
        ulong end = Load(cpu, 64, a =>
        {
            a.xor(edx, edx);
            a.xor(ecx, ecx);
            a.div(rcx);
            a.nop();
        });

        var run = cpu.Run(Code, end);

        // #DE is a fault (SDM vol 3 §6.15): RIP still points at the DIV.
        Assert.Equal(new ReferenceRun(ReferenceOutcome.CpuException, div, Vector: 0), run);
        Assert.Throws<InvalidOperationException>(() => cpu.Run(Code, end));
    }

    [Fact]
    public void MemoryWriteLandsInMappedMemory()
    {
        using var cpu = NewCpu(ReferenceMode.Long64);
        ulong end = Load(cpu, 64, a =>
        {
            a.mov(rax, 0x1122_3344_5566_7788);
            a.mov(rdi, Data);
            a.mov(__qword_ptr[rdi + 8], rax);
        });

        Assert.Equal(ReferenceOutcome.Completed, cpu.Run(Code, end).Outcome);
        Assert.Equal(0x1122_3344_5566_7788UL, BitConverter.ToUInt64(cpu.ReadMemory(Data + 8, 8)));
    }

    [Fact]
    public void UnmappedWriteReportsTheFaultingInstruction()
    {
        using var cpu = NewCpu(ReferenceMode.Long64);
        ulong end = Load(cpu, 64, a =>
        {
            a.nop();
            a.nop();
            a.mov(rdi, 0x10_0000);
            a.mov(__qword_ptr[rdi], rax);
        });

        var run = cpu.Run(Code, end);

        Assert.Equal(new ReferenceRun(ReferenceOutcome.WriteUnmapped, Code + 2 + 10), run);
    }

    [Fact]
    public void InvalidInstructionHaltAndUnmappedFetchAreOutcomes()
    {
        using (var cpu = NewCpu(ReferenceMode.Long64))
        {
            ulong end = Load(cpu, 64, a => { a.nop(); a.ud2(); });
            Assert.Equal(new ReferenceRun(ReferenceOutcome.InvalidInstruction, Code + 1), cpu.Run(Code, end));
        }
        using (var cpu = NewCpu(ReferenceMode.Long64))
        {
            ulong end = Load(cpu, 64, a => { a.hlt(); a.nop(); });
            Assert.Equal(new ReferenceRun(ReferenceOutcome.Halted, Code + 1), cpu.Run(Code, end));
        }
        using (var cpu = NewCpu(ReferenceMode.Long64))
        {
            ulong end = Load(cpu, 64, a => { a.mov(rax, 0x20_0000); a.jmp(rax); });
            Assert.Equal(new ReferenceRun(ReferenceOutcome.FetchUnmapped, 0x20_0000), cpu.Run(Code, end));
        }
    }

    [Fact]
    public void PxorAndPadddWorkOnXmmRegisters()
    {
        using var cpu = NewCpu(ReferenceMode.Long64);
        ulong end = Load(cpu, 64, a =>
        {
            a.pxor(xmm0, xmm0);
            a.paddd(xmm1, xmm2);
            a.paddd(xmm15, xmm15);
        });
        cpu.SetXmm(0, UInt128.MaxValue);
        // Four dwords each: 1,2,3,0xFFFFFFFF + 10,20,30,1 → 11,22,33,0 (no carry between lanes).
        cpu.SetXmm(1, new UInt128(0xFFFF_FFFF_0000_0003, 0x0000_0002_0000_0001));
        cpu.SetXmm(2, new UInt128(0x0000_0001_0000_001E, 0x0000_0014_0000_000A));
        cpu.SetXmm(15, new UInt128(0x8000_0000_0000_0001, 0));

        Assert.Equal(ReferenceOutcome.Completed, cpu.Run(Code, end).Outcome);
        Assert.Equal(UInt128.Zero, cpu.GetXmm(0));
        Assert.Equal(new UInt128(0x0000_0000_0000_0021, 0x0000_0016_0000_000B), cpu.GetXmm(1));
        Assert.Equal(new UInt128(0x0000_0000_0000_0002, 0), cpu.GetXmm(15));
    }

    [Fact]
    public void Protected32RunsFlatWithoutPaging()
    {
        using var cpu = NewCpu(ReferenceMode.Protected32);
        ulong end = Load(cpu, 32, a =>
        {
            a.mov(eax, 0xFFFF_FFF0);
            a.add(eax, ebx);
            a.mov(__dword_ptr[Data], eax);
        });
        cpu.SetRegister(Gpr.Rbx, 0x20);

        Assert.Equal(new ReferenceRun(ReferenceOutcome.Completed, end), cpu.Run(Code, end));
        Assert.Equal(1UL, cpu.Cr0 & 0x8000_0001); // PE on, PG off
        Assert.Equal(0x10UL, cpu.GetRegister(Gpr.Rax));
        Assert.Equal(0x10U, BitConverter.ToUInt32(cpu.ReadMemory(Data, 4)));
        // Carry out of bit 31 only (low nibbles 0 + 0: no AF); 0x10 has one bit set, so PF is clear.
        Assert.Equal(CF, cpu.Rflags & ArithmeticFlags);
        Assert.Throws<ArgumentOutOfRangeException>(() => cpu.GetRegister(Gpr.R8));
    }

    [Fact]
    public void Real16UsesSegmentBases()
    {
        using var cpu = NewCpu(ReferenceMode.Real16);
        ulong end = Load(cpu, 16, a => a.mov(__word_ptr[0x10], ax));
        cpu.SetSegment(SegmentRegister.Ds, 0x0800); // base 0x8000
        cpu.SetRegister(Gpr.Rax, 0xBEEF);

        Assert.Equal(ReferenceOutcome.Completed, cpu.Run(Code, end).Outcome);
        Assert.Equal(0UL, cpu.Cr0 & 1);
        Assert.Equal(0xBEEF, BitConverter.ToUInt16(cpu.ReadMemory(Data + 0x10, 2)));
    }

    [Fact]
    public void Long64StartsInLongModeWithoutPaging()
    {
        using var cpu = new ReferenceCpu(ReferenceMode.Long64);
        Assert.Equal(0x500UL, cpu.ReadMsr(0xC000_0080) & 0x500); // EFER.LME | EFER.LMA
        Assert.Equal(0UL, cpu.Cr0 & 0x8000_0000); // CR0.PG clear: linear = physical
        cpu.FsBase = 0x1234_0000;
        cpu.Gdtr = new DescriptorTable(0x5000, 0x27);
        Assert.Equal(0x1234_0000UL, cpu.FsBase);
        Assert.Equal(new DescriptorTable(0x5000, 0x27), cpu.Gdtr);
    }

    [Fact]
    public void LoopStopsAtUntilAndCountStopsExactly()
    {
        const int N = 1000;
        using var cpu = NewCpu(ReferenceMode.Long64);
        ulong end = Load(cpu, 64, a =>
        {
            var top = a.CreateLabel();
            a.xor(eax, eax);
            a.mov(ecx, N);
            a.Label(ref top);
            a.inc(rax);
            a.dec(rcx);
            a.jnz(top);
            a.nop();
        });
        ulong until = end - 1; // the nop

        Assert.Equal(new ReferenceRun(ReferenceOutcome.Completed, until), cpu.Run(Code, until));
        Assert.Equal((ulong)N, cpu.GetRegister(Gpr.Rax));

        // xor (2 bytes) + mov (5) + inc rax (3): three instructions end at the dec.
        var three = cpu.RunInstructions(Code, cpu.ReadMemory(Code, (int)(end - Code)), 3);
        Assert.Equal(new ReferenceRun(ReferenceOutcome.Completed, Code + 10), three);
        Assert.Equal(1UL, cpu.GetRegister(Gpr.Rax));
        Assert.Equal(new ReferenceRun(ReferenceOutcome.InstructionLimit, Code + 10), cpu.Run(Code, until, maxInstructions: 3));
    }

    [Fact]
    public void CaptureLoadAndDiff()
    {
        using var cpu = NewCpu(ReferenceMode.Long64);
        ulong end = Load(cpu, 64, a => { a.stc(); a.mov(__byte_ptr[Data + 3], 0xAB); });
        cpu.Rip = Code;
        var before = cpu.Capture((Data, 16));
        Assert.Equal(ReferenceOutcome.Completed, cpu.Run(Code, end).Outcome);
        var after = cpu.Capture((Data, 16));

        string diff = before.Diff(after, ArithmeticFlags);
        Assert.Contains("RIP: reference 0x0000000000001000, actual", diff);
        Assert.Contains("differ in CF", diff);
        Assert.Contains("memory 0x8003 (+3..+3): reference 00, actual AB", diff);
        Assert.Empty(after.Diff(cpu.Capture((Data, 16)), ArithmeticFlags));
        // Flags outside the mask do not count.
        Assert.DoesNotContain("RFLAGS", before.Diff(after, ZF));

        cpu.Load(before);
        Assert.Empty(before.Diff(cpu.Capture((Data, 16)), ulong.MaxValue));
        after[Gpr.R15] = 7;
        after.Xmm[3] = 1;
        string more = before.Diff(after, 0);
        Assert.Contains("R15: reference 0x0000000000000000, actual 0x0000000000000007", more);
        Assert.Contains("XMM3:", more);
    }
}
