namespace KvmSharp.Devices.Legacy;

/// <summary>
/// The CMOS RTC's saved state: all 128 bytes of CMOS RAM (the registers A-D, the alarm bytes, the time fields
/// as of the last SET, the memory size and anything the guest stored), the selected index, and the guest's
/// clock as an offset from the device's time source, so that after a restore the clock runs on from that source
/// (with the host clock: it keeps wall-clock time, as a PC's battery-backed clock does across a suspend).
/// </summary>
public sealed record CmosRtcState
{
    public byte[] Ram { get; init; } = [];
    public byte Index { get; init; }
    public bool NmiMasked { get; init; }

    /// <summary>Guest time minus the time source's, in 100 ns ticks.</summary>
    public long OffsetTicks { get; init; }

    /// <summary>The guest second (ticks / 10^7) at the previous read of register C, for the lazy update-ended flag.</summary>
    public long LastRegisterCSecond { get; init; }
}
