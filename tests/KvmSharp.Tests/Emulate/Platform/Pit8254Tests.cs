using KvmSharp.Accelerators.Emulate.Platform;

namespace KvmSharp.Tests.Emulate.Platform;

/// <summary>
/// The 8254 (Intel 8254 datasheet, "Modes", "Read Operations") and port 0x61, as Linux programs them:
/// drivers/clocksource/i8253.c (mode 2 periodic, mode 4 one-shot) and arch/x86/kernel/tsc.c (counter 2
/// in mode 0 polled through port 0x61; LSB/MSB reads without a latch). Expected counts are worked out
/// from the datasheet's mode descriptions; clock ticks from 1193182 Hz (checked with exact fractions).
/// </summary>
public class Pit8254Tests
{
    private readonly ManualClock _clock = new();
    private readonly List<bool> _irq0 = [];
    private readonly Pit8254 _pit;

    public Pit8254Tests() => _pit = new Pit8254(_clock, _irq0.Add);

    private void Out(ushort port, byte value) => _pit.WritePort(port, 1, value);
    private byte In(ushort port) => (byte)_pit.ReadPort(port, 1);

    private void At(long tick) => _clock.SetTick(tick);

    /// <summary>Counter <paramref name="counter"/>'s status and count through one read-back command.</summary>
    private (int Status, int Count) ReadBack(int counter)
    {
        Out(0x43, (byte)(0xC0 | 2 << counter));   // latch count and status
        ushort port = (ushort)(0x40 + counter);
        int status = In(port);
        return (status, In(port) | In(port) << 8);
    }

    private int LatchedCount(int counter)
    {
        Out(0x43, (byte)(counter << 6));          // counter latch command
        ushort port = (ushort)(0x40 + counter);
        return In(port) | In(port) << 8;
    }

    private void Fire()
    {
        _clock.Nanoseconds = _pit.NextDeadline;
        _pit.Update(_clock.Nanoseconds);
    }

    [Fact]
    public void ClockTicksAre1193182PerSecondExactly()
    {
        Assert.Equal(0, PitClock.TickAt(838));
        Assert.Equal(1, PitClock.TickAt(839));
        Assert.Equal(1_193_182, PitClock.TickAt(1_000_000_000));
        Assert.Equal(8_590_910_400, PitClock.TickAt(7_200_000_000_001));   // two hours: no overflow
        Assert.Equal(839, PitClock.TimeOfTick(1));
        Assert.Equal(999_848, PitClock.TimeOfTick(1193));
        Assert.Equal(1192, PitClock.TickAt(999_847));
        Assert.Equal(1_000_000_000, PitClock.TimeOfTick(1_193_182));
        Assert.Equal(2_514_285_331_156_521, PitClock.TimeOfTick(3_000_000_000_000));
    }

    [Fact]
    public void NothingHappensUntilProgrammed()
    {
        Assert.Equal(long.MaxValue, _pit.NextDeadline);
        _clock.Nanoseconds = 5_000_000_000;
        _pit.Update(_clock.Nanoseconds);
        Assert.Empty(_irq0);
    }

    [Fact]
    public void Mode2RaisesIrq0EveryPeriodAsLinuxPeriodicTickProgramsIt()
    {
        Out(0x43, 0x34);                      // counter 0, LSB then MSB, mode 2, binary
        Assert.Equal([true], _irq0);          // OUT goes high on a mode 2 control word
        Out(0x40, 0xA9);                      // LATCH = 1193 for HZ = 1000
        Out(0x40, 0x04);
        Assert.Equal(999_848, _pit.NextDeadline);
        Fire();
        Assert.Equal([true, false, true], _irq0);   // the one-CLK low pulse, a rising edge
        Assert.Equal(1_999_695, _pit.NextDeadline);
        Fire();
        Assert.Equal([true, false, true, false, true], _irq0);

        At(2 * 1193 + 100);
        Assert.Equal(1193 - 100, LatchedCount(0));
        At(3 * 1193 - 1);
        Assert.Equal(1, LatchedCount(0));     // mode 2 counts N..1; OUT is low at 1
        Assert.Equal(0x34, ReadBack(0).Status);
        At(3 * 1193);
        Assert.Equal(1193, LatchedCount(0));
    }

    [Fact]
    public void LateUpdateCoalescesMissedPeriodsIntoOneEdge()
    {
        Out(0x43, 0x34);
        Out(0x40, 0xA9);
        Out(0x40, 0x04);
        _irq0.Clear();
        At(10 * 1193 + 5);
        _pit.Update(_clock.Nanoseconds);
        Assert.Equal([false, true], _irq0);
        Assert.Equal(PitClock.TimeOfTick(11 * 1193), _pit.NextDeadline);
    }

    [Fact]
    public void VeryShortPeriodsAreRateLimitedLikeKvms()
    {
        Out(0x43, 0x34);
        Out(0x40, 0x02);                      // a period of 2 CLKs (1.7 µs)
        Out(0x40, 0x00);
        Fire();
        long edge = _clock.Nanoseconds;
        Assert.Equal(edge + Pit8254.MinimumPeriodNanoseconds, _pit.NextDeadline);
    }

    [Fact]
    public void Mode0IsAOneShotThatKeepsCountingThroughZero()
    {
        At(0);
        Out(0x43, 0x30);                      // counter 0, LSB/MSB, mode 0: OUT low
        Out(0x40, 0xE8);                      // 1000
        Out(0x40, 0x03);
        Assert.Empty(_irq0);
        Assert.Equal(PitClock.TimeOfTick(1000), _pit.NextDeadline);
        At(999);
        _pit.Update(_clock.Nanoseconds);
        Assert.Empty(_irq0);
        Fire();
        Assert.Equal([true], _irq0);
        Assert.Equal(long.MaxValue, _pit.NextDeadline);
        At(1500);
        Assert.Equal((0xB0, 65036), ReadBack(0));   // OUT stays high; the count wraps to 1000 - 1500
    }

    [Fact]
    public void Mode0FirstCountByteStopsCountingAndDropsOut()
    {
        Out(0x43, 0x30);
        Out(0x40, 0x10);
        Out(0x40, 0x00);
        At(20);
        _pit.Update(_clock.Nanoseconds);
        Assert.Equal([true], _irq0);
        Out(0x40, 0x50);                      // first byte of a new count
        Assert.Equal([true, false], _irq0);
        At(100);
        Assert.Equal(65532, LatchedCount(0)); // held where it stopped (16 - 20)
        Out(0x40, 0x00);                      // second byte: 0x50 loaded now
        At(100 + 0x50);
        _pit.Update(_clock.Nanoseconds);
        Assert.Equal([true, false, true], _irq0);
    }

    [Fact]
    public void Mode4StrobesOutLowForOneClockAsLinuxOneShotUsesIt()
    {
        Out(0x43, 0x38);                      // counter 0, LSB/MSB, mode 4
        Out(0x40, 0x0A);
        Out(0x40, 0x00);
        Assert.Equal(PitClock.TimeOfTick(11), _pit.NextDeadline);   // OUT rises N+1 CLKs after the write
        At(5);
        Assert.Equal(0xB8, ReadBack(0).Status);
        At(10);
        Assert.Equal((0x38, 0), ReadBack(0));
        Fire();
        Assert.Equal([true, false, true], _irq0);
        Assert.Equal(long.MaxValue, _pit.NextDeadline);
    }

    /// <summary>Datasheet "Mode 3": the count drops by 2 per CLK and reloads each half-period; with an odd N
    /// the high half is one CLK longer (N → N-1 → N-3 … high, N → N-3 … low).</summary>
    [Theory]
    [InlineData(5, new[] { 5, 4, 2, 5, 2, 5, 4 }, new[] { true, true, true, false, false, true, true })]
    [InlineData(4, new[] { 4, 2, 4, 2, 4 }, new[] { true, true, false, false, true })]
    public void Mode3SquareWaveCountsAndOut(byte initialCount, int[] counts, bool[] outs)
    {
        Out(0x43, 0x36);                      // counter 0, LSB/MSB, mode 3
        Out(0x40, initialCount);
        Out(0x40, 0x00);
        for (int tick = 0; tick < counts.Length; tick++)
        {
            At(tick);
            var (status, count) = ReadBack(0);
            Assert.Equal((outs[tick], counts[tick]), ((status & 0x80) != 0, count));
        }
    }

    [Fact]
    public void LatchFreezesTheCountUntilReadAndASecondLatchIsIgnored()
    {
        Out(0x43, 0x34);
        Out(0x40, 0xA9);
        Out(0x40, 0x04);
        At(100);
        Out(0x43, 0x00);
        At(300);
        Out(0x43, 0x00);                      // ignored: the first latch is unread
        At(500);
        Assert.Equal(0x45, In(0x40));         // 1093 = 0x0445
        Assert.Equal(0x04, In(0x40));
        Assert.Equal(0xB5, In(0x40));         // live again: 693 = 0x02B5
        Assert.Equal(0x02, In(0x40));
    }

    [Fact]
    public void ReadBackReportsNullCountUntilACountIsLoaded()
    {
        Out(0x43, 0x34);
        Out(0x43, 0xE2);                      // read-back: status only, counter 0
        Assert.Equal(0xF4, In(0x40));         // OUT high, null count, RW=11 mode 2 binary
        Out(0x40, 0x00);
        Out(0x40, 0x01);
        Out(0x43, 0xE2);
        Assert.Equal(0xB4, In(0x40));
    }

    [Fact]
    public void NewMode2CountTakesEffectAtTheEndOfThePeriod()
    {
        Out(0x43, 0x34);
        Out(0x40, 0xE8);                      // 1000
        Out(0x40, 0x03);
        At(400);
        Out(0x40, 0xF4);                      // 500, no control word
        Out(0x40, 0x01);
        At(999);
        Assert.Equal(1, LatchedCount(0));
        Fire();                               // the old period's end, tick 1000
        Assert.Equal(PitClock.TimeOfTick(1000), _clock.Nanoseconds);
        Assert.Equal(PitClock.TimeOfTick(1500), _pit.NextDeadline);
        At(1200);
        Assert.Equal(300, LatchedCount(0));
    }

    [Fact]
    public void SingleByteAccessModesAndBcd()
    {
        Out(0x43, 0x10);                      // counter 0, LSB only, mode 0
        Out(0x40, 0x50);
        At(5);
        Assert.Equal(0x4B, In(0x40));
        Assert.Equal(0x4B, In(0x40));         // every read is the LSB

        Out(0x43, 0x60);                      // counter 1, MSB only, mode 0
        Out(0x41, 0x12);                      // 0x1200 = 4608
        At(13);
        Assert.Equal(0x11, In(0x41));         // 4600 = 0x11F8

        Out(0x43, 0xB1);                      // counter 2, LSB/MSB, mode 0, BCD
        Out(0x61, 0x01);                      // gate 2 up
        Out(0x42, 0x00);
        Out(0x42, 0x10);                      // 1000 decimal
        At(14);
        Assert.Equal(0x0999, LatchedCount(2));
        At(13 + 1000);
        Assert.NotEqual(0, In(0x61) & 0x20);
        At(13 + 1001);
        Assert.Equal(0x9999, LatchedCount(2));   // wraps within 10000
    }

    [Fact]
    public void Port61Out2RisesAtTerminalCountAsPitCalibrateTscWaitsForIt()
    {
        const long start = 1000, latch = 59659;   // CLOCK_TICK_RATE / 20: 50 ms
        At(start);
        Out(0x61, (byte)((In(0x61) & ~0x02) | 0x01));   // gate on, speaker off
        Out(0x43, 0xB0);                      // counter 2, LSB/MSB, mode 0, binary
        Out(0x42, (byte)(latch & 0xFF));
        Out(0x42, (byte)(latch >> 8));
        Assert.Equal(0x01, In(0x61) & 0x23);
        At(start + latch - 1);
        Assert.Equal(0, In(0x61) & 0x20);
        At(start + latch);
        Assert.Equal(0x20, In(0x61) & 0x20);
        Assert.Empty(_irq0);                  // counter 2 is not an interrupt source
    }

    [Fact]
    public void GateLowSuspendsMode0Counting()
    {
        Out(0x61, 0x01);
        Out(0x43, 0xB0);
        Out(0x42, 0x00);
        Out(0x42, 0x10);                      // 4096
        At(100);
        Out(0x61, 0x00);
        At(5000);
        Assert.Equal(4096 - 100, LatchedCount(2));
        Out(0x61, 0x01);
        At(4096 + 4900 - 1);
        Assert.Equal(0, In(0x61) & 0x20);
        At(4096 + 4900);
        Assert.Equal(0x20, In(0x61) & 0x20);
    }

    [Fact]
    public void UnlatchedLsbMsbReadsFollowTheLiveCountAsQuickPitCalibrateReadsThem()
    {
        const long start = 777;
        At(start);
        Out(0x61, 0x01);
        Out(0x43, 0xB0);
        Out(0x42, 0xFF);
        Out(0x42, 0xFF);                      // 65535
        At(start + 256);
        Assert.Equal(0xFF, In(0x42));         // 65279 = 0xFEFF
        Assert.Equal(0xFE, In(0x42));
        At(start + 512);
        Assert.Equal(0xFF, In(0x42));         // 65023 = 0xFDFF
        Assert.Equal(0xFD, In(0x42));
    }

    [Fact]
    public void Port61KeepsItsLowBitsAndTogglesRefresh()
    {
        Out(0x61, 0xFE);                      // only bits 3:0 are stored; gate off
        Assert.Equal(0x0E, In(0x61) & 0x1F);
        At(18);
        Assert.Equal(0x10, In(0x61) & 0x10);
        At(36);
        Assert.Equal(0, In(0x61) & 0x10);
    }

    [Fact]
    public void Mode1IsTriggeredAndRetriggeredByGate2()
    {
        Out(0x43, 0x92);                      // counter 2, LSB only, mode 1
        Out(0x42, 100);
        Assert.Equal(0x20, In(0x61) & 0x20);  // OUT high while waiting for a trigger
        At(50);
        Out(0x61, 0x01);
        Assert.Equal(0, In(0x61) & 0x20);
        At(149);
        Assert.Equal(0, In(0x61) & 0x20);
        At(150);
        Assert.Equal(0x20, In(0x61) & 0x20);
        Out(0x61, 0x00);
        At(210);
        Out(0x61, 0x01);                      // retrigger
        At(309);
        Assert.Equal(0, In(0x61) & 0x20);
        At(310);
        Assert.Equal(0x20, In(0x61) & 0x20);
    }

    [Fact]
    public void GateLowStopsMode2WithOutHighAndTheRisingEdgeReloads()
    {
        Out(0x61, 0x01);
        Out(0x43, 0xB4);                      // counter 2, LSB/MSB, mode 2
        Out(0x42, 100);
        Out(0x42, 0);
        At(30);
        Out(0x61, 0x00);
        At(99);
        Assert.Equal(0x20, In(0x61) & 0x20);
        Assert.Equal(70, LatchedCount(2));
        At(200);
        Out(0x61, 0x01);
        At(210);
        Assert.Equal(90, LatchedCount(2));
        At(299);
        Assert.Equal(0, In(0x61) & 0x20);
    }

    [Fact]
    public void ModesSixAndSevenAreTwoAndThree()
    {
        Out(0x43, 0x3C);                      // M2 M1 M0 = 110: mode 2
        Out(0x40, 4);
        Out(0x40, 0);
        At(3);
        Assert.Equal((0x3C, 1), ReadBack(0));  // the status shows the bits as written; OUT low at count 1
    }

    [Fact]
    public void HostileAccessesAreHarmless()
    {
        Assert.Equal(0xFFFFu, _pit.ReadPort(0x40, 2));
        Assert.Equal(0xFFFF_FFFFu, _pit.ReadPort(0x61, 4));
        _pit.WritePort(0x43, 2, 0x34);        // not a byte: ignored
        Assert.Equal(long.MaxValue, _pit.NextDeadline);
        Assert.Equal(0xFF, In(0x43));         // the control register is write-only
        Out(0x43, 0xC0);                      // read-back naming no counter
        Out(0x43, 0x34);
        Out(0x40, 1);                         // count 1 in mode 2 is illegal: no interrupt storm
        Out(0x40, 0);
        Assert.Equal(long.MaxValue, _pit.NextDeadline);
        for (int port = 0x40; port <= 0x42; port++)
            In((ushort)port);
        _clock.Nanoseconds = long.MaxValue / 2;
        _pit.Update(_clock.Nanoseconds);
    }
}
