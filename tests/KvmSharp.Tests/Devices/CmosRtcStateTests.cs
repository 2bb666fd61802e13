using KvmSharp.Devices.Legacy;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Devices;

public class CmosRtcStateTests
{
    private DateTimeOffset _now = new(2024, 2, 29, 13, 45, 56, TimeSpan.Zero);

    private CmosRtc Create() => new(256 << 20, 0, 2, () => _now);

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

    /// <summary>The guest set its clock to 1999-12-31 23:59:50 in binary mode and left an alarm and a byte of its own.</summary>
    private CmosRtc GuestSetClock()
    {
        var rtc = Create();
        Set(rtc, 0x0B, 0x80 | 0x04 | 0x02);   // SET, binary, 24 h
        Set(rtc, 0x00, 50);
        Set(rtc, 0x02, 59);
        Set(rtc, 0x04, 23);
        Set(rtc, 0x07, 31);
        Set(rtc, 0x08, 12);
        Set(rtc, 0x09, 99);
        Set(rtc, 0x32, 19);
        Set(rtc, 0x0B, 0x04 | 0x02 | 0x20);   // run, alarm interrupt enabled
        Set(rtc, 0x01, 30);                   // alarm seconds
        Set(rtc, 0x40, 0xA5);
        rtc.Out(0, 0x80 | 0x09);              // index with NMIs masked
        return rtc;
    }

    [Fact]
    public void TheGuestClockContinuesFromTheTimeSourceAfterRestore()
    {
        var saved = StateFuzz.RoundTrip(GuestSetClock().SaveState());
        _now = _now.AddSeconds(5);
        var restored = Create();
        restored.RestoreState(saved);
        Assert.True(restored.NmiMasked);
        Assert.Equal(99, restored.In(1));      // the index survived: register 9, the year
        Assert.Equal(55, Get(restored, 0x00));
        Assert.Equal(59, Get(restored, 0x02));
        _now = _now.AddSeconds(10);
        Assert.Equal(5, Get(restored, 0x00));
        Assert.Equal(0, Get(restored, 0x09));  // into 2000
        Assert.Equal(20, Get(restored, 0x32));
        Assert.Equal(30, Get(restored, 0x01));
        Assert.Equal(0x26, Get(restored, 0x0A));   // register A as the firmware left it
        Assert.Equal(0xA5, Get(restored, 0x40));
        Assert.Equal(0x26, Get(restored, 0x0B) & 0x26);
    }

    [Fact]
    public void AFrozenClockStaysFrozen()
    {
        var rtc = Create();
        Set(rtc, 0x0B, 0x80 | 0x02);
        var saved = rtc.SaveState();
        _now = _now.AddHours(1);
        var restored = Create();
        restored.RestoreState(saved);
        Assert.Equal(0x56, Get(restored, 0x00));
        Assert.Equal(0x13, Get(restored, 0x04));
    }

    public static TheoryData<string, CmosRtcState> HostileStates()
    {
        var good = new CmosRtc(256 << 20, 0, 1, () => DateTimeOffset.UnixEpoch).SaveState();
        return new()
        {
            { "cmos.Ram", good with { Ram = new byte[127] } },
            { "cmos.Ram", good with { Ram = null! } },
            { "cmos.Index", good with { Index = 0x80 } },
            { "cmos.OffsetTicks", good with { OffsetTicks = long.MaxValue } },
            { "cmos.OffsetTicks", good with { OffsetTicks = long.MinValue } },
        };
    }

    [Theory]
    [MemberData(nameof(HostileStates))]
    public void HostileStatesAreRefusedNamingTheField(string field, CmosRtcState state)
    {
        var e = Assert.Throws<StateException>(() => Create().RestoreState(state));
        Assert.StartsWith(field + ":", e.Message);
    }

    [Fact]
    public void RandomMutationsOnlyEverThrowStateException() =>
        Assert.True(StateFuzz.Run(Create, GuestSetClock().SaveState(), seed: 146818) > 0);
}
