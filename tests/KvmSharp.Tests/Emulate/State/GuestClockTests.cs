using KvmSharp.Accelerators.Emulate.Platform;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>The VM clocks: they stand still while paused and go on from a saved time (so restored guest time is monotonic).</summary>
public class GuestClockTests
{
    [Fact]
    public void HostClockStartsAtItsOffset()
    {
        var clock = new HostClock(startNanoseconds: 5_000_000_000);
        Assert.InRange(clock.Nanoseconds, 5_000_000_000, long.MaxValue);
    }

    [Fact]
    public void PausedHostClockStandsStillAndGoesOnFromThere()
    {
        var clock = new HostClock();
        clock.Pause();
        long frozen = clock.Nanoseconds;
        Thread.Sleep(2);
        Assert.Equal(frozen, clock.Nanoseconds);
        clock.Resume();
        Assert.InRange(clock.Nanoseconds, frozen, long.MaxValue);
    }

    [Fact]
    public void HostClockSetWhilePausedReadsExactlyThatUntilResumed()
    {
        var clock = new HostClock();
        clock.Pause();
        clock.Set(42_000);
        Assert.Equal(42_000, clock.Nanoseconds);
        clock.Resume();
        Assert.InRange(clock.Nanoseconds, 42_000, long.MaxValue);
    }

    private sealed class Counter : IInstructionCounter
    {
        public ulong InstructionsRetired { get; set; }
    }

    [Fact]
    public void InstructionClockIsSetWithoutTouchingTheCountsAndSkipsNoIdleTimeWhilePaused()
    {
        var clock = new InstructionClock(shift: 2);
        var counter = new Counter { InstructionsRetired = 100 };
        clock.Add(counter);
        Assert.Equal(400, clock.Nanoseconds);
        clock.Set(1_000_000);
        Assert.Equal(1_000_000, clock.Nanoseconds);
        counter.InstructionsRetired += 10;
        Assert.Equal(1_000_040, clock.Nanoseconds);

        clock.Pause();
        clock.AdvanceTo(2_000_000);                  // a waiting vCPU's idle jump: not while paused
        Assert.Equal(1_000_040, clock.Nanoseconds);
        clock.Resume();
        clock.AdvanceTo(2_000_000);
        Assert.Equal(2_000_000, clock.Nanoseconds);
    }
}
