using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Emulate.Guests;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Emulate.Platform;

/// <summary>Guests on the software CPU that take local APIC timer interrupts and IPIs, with host time and with instruction-counted time.</summary>
public class ApicGuestTests
{
    private static string Run(int? instructionCountShift)
    {
        using var vm = new TestMachine(SystemGuestTests.Image("apic-timer", ApicTimerGuest.Build()), c => c with { InstructionCountShift = instructionCountShift }, accelerator: "emulate");
        var exit = vm.RunToEnd();
        Assert.True(exit.Reason == MachineExitReason.DebugExit, $"{exit}; console:\n{vm.Console.Output}\nnotices: {string.Join("; ", vm.Notices)}");
        Assert.Equal(ApicTimerGuest.ExitStatus, exit.ExitStatus);
        Assert.Empty(vm.Notices);
        return vm.Console.Output;
    }

    [Fact]
    public void TimerInPeriodicOneShotAndDeadlineModesAndSelfIpiWithHostTime()
    {
        string output = Run(instructionCountShift: null);
        Assert.StartsWith(ApicTimerGuest.ExpectedOutputStart, output);
    }

    [Fact]
    public void InstructionCountedTimeRepeatsExactly()
    {
        string first = Run(instructionCountShift: 2), second = Run(instructionCountShift: 2);
        Assert.StartsWith(ApicTimerGuest.ExpectedOutputStart, first);
        Assert.Equal(first, second);
        // The TSC counts guest time: at least the 5 periods, the one-shot and the 3 deadlines the guest waited for.
        uint tsc = Convert.ToUInt32(first.Split("tsc ")[1].Trim(), 16);
        Assert.True(tsc >= 5 * 100_000 + 200_000 + 3 * 50_000, $"tsc {tsc}");
    }
}
