using KvmSharp.Devices.Legacy;

namespace KvmSharp.Tests.Devices;

public class CmosRtcTests
{
    private const ulong MiB = 1024 * 1024, GiB = 1024 * MiB;

    private DateTimeOffset _now = new(2024, 2, 29, 13, 45, 56, TimeSpan.Zero);   // a Thursday

    private CmosRtc Create(ulong below = 256 * MiB, ulong above = 0, int cpus = 1) => new(below, above, cpus, () => _now);

    private static byte Get(CmosRtc rtc, byte index)
    {
        rtc.Out(0, index);
        return rtc.In(1);
    }

    private static void Set(CmosRtc rtc, byte index, byte value)
    {
        rtc.Out(0, index);
        rtc.Out(1, value);
    }

    [Fact]
    public void TimeReadsInBcdByDefault()
    {
        var rtc = Create();
        Assert.Equal(0x56, Get(rtc, 0x00));
        Assert.Equal(0x45, Get(rtc, 0x02));
        Assert.Equal(0x13, Get(rtc, 0x04));
        Assert.Equal(0x05, Get(rtc, 0x06));   // Thursday, Sunday = 1
        Assert.Equal(0x29, Get(rtc, 0x07));
        Assert.Equal(0x02, Get(rtc, 0x08));
        Assert.Equal(0x24, Get(rtc, 0x09));
        Assert.Equal(0x20, Get(rtc, 0x32));
    }

    [Fact]
    public void TimeReadsInBinaryAndTwelveHourFormAsRegisterBSays()
    {
        var rtc = Create();
        Set(rtc, 0x0B, 0x04);                 // binary, 12-hour
        Assert.Equal(56, Get(rtc, 0x00));
        Assert.Equal(0x80 | 1, Get(rtc, 0x04));   // 1 PM
        Assert.Equal(24, Get(rtc, 0x09));
        Set(rtc, 0x0B, 0x00);                 // BCD, 12-hour
        Assert.Equal(0x81, Get(rtc, 0x04));
    }

    [Fact]
    public void ClockFollowsTheHostClock()
    {
        var rtc = Create();
        _now = _now.AddSeconds(2);
        Assert.Equal(0x58, Get(rtc, 0x00));
    }

    [Fact]
    public void SetBitFreezesTheClockAndTheGuestSetsANewTime()
    {
        var rtc = Create();
        Set(rtc, 0x0B, 0x82);
        _now = _now.AddSeconds(5);
        Assert.Equal(0x56, Get(rtc, 0x00));   // frozen
        Set(rtc, 0x09, 0x28);                 // year 2028 (29 February exists)
        Set(rtc, 0x0B, 0x02);
        _now = _now.AddSeconds(1);
        Assert.Equal(0x28, Get(rtc, 0x09));
        Assert.Equal(0x57, Get(rtc, 0x00));   // runs on from the time set
    }

    [Fact]
    public void InvalidGuestTimeLeavesTheClockRunning()
    {
        var rtc = Create();
        Set(rtc, 0x0B, 0x82);
        Set(rtc, 0x08, 0x13);                 // month 13
        Set(rtc, 0x0B, 0x02);
        Assert.Equal(0x02, Get(rtc, 0x08));
        Set(rtc, 0x0B, 0x82);
        Set(rtc, 0x09, 0x23);                 // 29 February 2023 does not exist
        Set(rtc, 0x0B, 0x02);
        Assert.Equal(0x24, Get(rtc, 0x09));
    }

    [Fact]
    public void StatusRegistersBehaveAsTheDatasheetSays()
    {
        var rtc = Create();
        Assert.Equal(0x26, Get(rtc, 0x0A));
        Assert.Equal(0x80, Get(rtc, 0x0D));
        Set(rtc, 0x0D, 0x00);
        Assert.Equal(0x80, Get(rtc, 0x0D));
        Get(rtc, 0x0C);
        _now = _now.AddSeconds(1);
        Set(rtc, 0x0B, 0x12);                 // update-ended interrupt enabled
        Assert.Equal(0x90, Get(rtc, 0x0C));   // an update happened since the last read
        Assert.Equal(0x00, Get(rtc, 0x0C));   // reading cleared it
    }

    [Fact]
    public void IndexBit7IsTheNmiMaskNotPartOfTheIndex()
    {
        var rtc = Create();
        rtc.Out(0, 0x80 | 0x09);
        Assert.True(rtc.NmiMasked);
        Assert.Equal(0x24, rtc.In(1));
        Set(rtc, 0x7F, 0xAB);
        Assert.False(rtc.NmiMasked);
        Assert.Equal(0xAB, Get(rtc, 0xFF));
    }

    [Fact]
    public void WordWriteSetsIndexThenData()
    {
        var rtc = Create();
        rtc.Write(0, [0x40, 0x5A]);
        Assert.Equal(0x5A, Get(rtc, 0x40));
    }

    [Fact]
    public void MemorySizeFor256MiB()
    {
        var rtc = Create(below: 256 * MiB, cpus: 4);
        Assert.Equal([0x80, 0x02], new[] { Get(rtc, 0x15), Get(rtc, 0x16) });
        Assert.Equal([0xFF, 0xFF], new[] { Get(rtc, 0x17), Get(rtc, 0x18) });   // 261120 KiB, capped
        Assert.Equal([0xFF, 0xFF], new[] { Get(rtc, 0x30), Get(rtc, 0x31) });
        Assert.Equal([0x00, 0x0F], new[] { Get(rtc, 0x34), Get(rtc, 0x35) });   // 240 MiB / 64 KiB = 0x0F00
        Assert.Equal([0, 0, 0], new[] { Get(rtc, 0x5B), Get(rtc, 0x5C), Get(rtc, 0x5D) });
        Assert.Equal(3, Get(rtc, 0x5F));
    }

    [Fact]
    public void MemorySizeFor5GiBSplitAroundThePciHole()
    {
        var rtc = Create(below: 3 * GiB, above: 2 * GiB);
        Assert.Equal([0xFF, 0xFF], new[] { Get(rtc, 0x17), Get(rtc, 0x18) });   // capped
        Assert.Equal([0x00, 0xBF], new[] { Get(rtc, 0x34), Get(rtc, 0x35) });   // (3 GiB - 16 MiB) / 64 KiB
        Assert.Equal([0x00, 0x80, 0x00], new[] { Get(rtc, 0x5B), Get(rtc, 0x5C), Get(rtc, 0x5D) });   // 2 GiB / 64 KiB = 0x8000
        Assert.Equal(0, Get(rtc, 0x5F));
    }

    [Fact]
    public void SmallMemoryDoesNotUnderflow()
    {
        var rtc = Create(below: 512 * 1024);
        Assert.Equal(0, Get(rtc, 0x17));
        Assert.Equal(0, Get(rtc, 0x34));
    }
}
