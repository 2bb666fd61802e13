using KvmSharp.Accelerators;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>A paused VM's guest time on the software CPU with host time: it stands still, and goes on from there.</summary>
public class EmulatedPauseTests
{
    [Fact]
    public void GuestTimeStandsStillWhilePaused()
    {
        using var memory = GuestMemory.Create(SnapshotGuest.MemorySize);
        using var vm = new EmulatorAccelerator().CreateVirtualMachine(memory, new VirtualMachineOptions(1));
        vm.PauseTime();
        long paused = ((EmulatedVmState)vm.SaveState()).GuestNanoseconds;
        Thread.Sleep(2);
        Assert.Equal(paused, ((EmulatedVmState)vm.SaveState()).GuestNanoseconds);
        vm.ResumeTime();
        Assert.InRange(((EmulatedVmState)vm.SaveState()).GuestNanoseconds, paused, long.MaxValue);
    }

    [Fact]
    public void RestoringWhilePausedKeepsTheLoadedTimeUntilResumed()
    {
        using var memory = GuestMemory.Create(SnapshotGuest.MemorySize);
        using var vm = new EmulatorAccelerator().CreateVirtualMachine(memory, new VirtualMachineOptions(1));
        var saved = (EmulatedVmState)vm.SaveState();
        vm.PauseTime();
        vm.RestoreState(saved with { GuestNanoseconds = 7_000_000_000 });
        Assert.Equal(7_000_000_000, ((EmulatedVmState)vm.SaveState()).GuestNanoseconds);
        vm.ResumeTime();
        Assert.InRange(((EmulatedVmState)vm.SaveState()).GuestNanoseconds, 7_000_000_000, long.MaxValue);
    }
}
