using Iced.Intel;
using KvmSharp.Tests.Emulate.Differential;
using KvmSharp.Tests.Reference;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// How x87 faults reach the guest on our CPU, from the SDM (neither reference can show it: Unicorn raises no x87
/// exceptions, the host would signal the test process): #MF for a pending unmasked exception at the next waiting
/// x87 instruction with CR0.NE set (SDM vol 1 §8.7, vol 3 §6.15 "Interrupt 16"), and #NM for CR0.EM/TS
/// (SDM vol 3 §2.5, Table 2-2).
/// </summary>
public class X87ExceptionTests
{
    private const ulong NumericError = 1 << 5, MonitorCoprocessor = 1 << 1, Emulation = 1 << 2, TaskSwitched = 1 << 3;

    private static (DiffOutcome Outcome, ulong Ax) Run(ulong cr0Set, Action<Assembler> body)
    {
        // 32-bit protected mode: the harness' long mode runs with paging off, which a CR0 write would end.
        using var harness = new DifferentialHarness(DiffMode.Protected32);
        var c = new DiffCase("x87 exception", a =>
        {
            a.mov(eax, cr0);
            a.or(eax, (int)cr0Set);
            a.mov(cr0, eax);
            body(a);
        });
        c[Gpr.Rbx] = DiffLayout.DataMiddle;
        c[Gpr.Rsp] = DiffLayout.StackTop;
        c.WithMemory(DiffLayout.DataMiddle, 0x37B, 2);   // FCW: ZE unmasked
        var (outcome, state) = harness.RunOurs(c);
        return (outcome, state[Gpr.Rax] & 0xFFFF);
    }

    [Fact]
    public void UnmaskedZeroDivideRaisesMathFaultAtTheNextWaitingInstruction()
    {
        var (outcome, status) = Run(NumericError, a =>
        {
            a.fninit();
            a.fldcw(__word_ptr[ebx]);
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);   // 1/0 with ZE unmasked: ZE, ES and B set; ST(1) and TOP unchanged (SDM vol 1 §8.5.3)
            a.fnstsw(ax);        // not waiting: no fault
            a.fld1();            // waiting: #MF
        });
        Assert.Equal(DiffOutcome.Fault(16), outcome);
        Assert.Equal(0x8000UL | 6 << 11 | 0x80 | 0x04, status);
    }

    [Fact]
    public void FnclexClearsThePendingException()
    {
        var (outcome, _) = Run(NumericError, a =>
        {
            a.fninit();
            a.fldcw(__word_ptr[ebx]);
            a.fld1();
            a.fldz();
            a.fdivp(st1, st0);
            a.fnclex();
            a.fld1();
            a.wait();
        });
        Assert.Equal(DiffOutcome.Halted, outcome);
    }

    [Theory]
    [InlineData(Emulation), InlineData(TaskSwitched)]
    public void EmOrTsRaiseDeviceNotAvailable(ulong bit)
    {
        var (outcome, _) = Run(bit, a => a.fld1());
        Assert.Equal(DiffOutcome.Fault(7), outcome);
    }

    [Fact]
    public void WaitFaultsOnlyWithMonitorCoprocessorAndTaskSwitched()
    {
        Assert.Equal(DiffOutcome.Halted, Run(TaskSwitched, a => a.wait()).Outcome);
        Assert.Equal(DiffOutcome.Fault(7), Run(TaskSwitched | MonitorCoprocessor, a => a.wait()).Outcome);
    }
}
