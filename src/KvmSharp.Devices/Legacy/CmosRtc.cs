using KvmSharp.Devices.Bus;
using KvmSharp.State;

namespace KvmSharp.Devices.Legacy;

/// <summary>
/// The PC's MC146818A real-time clock and 128 bytes of CMOS RAM behind ports 0x70 (index; bit 7 is
/// the NMI mask) and 0x71 (data): register it once at 0x70 with length 2. The clock runs from host
/// UTC plus whatever offset the guest set; registers read in BCD or binary and 12- or 24-hour form as
/// register B selects (MC146818A datasheet, "Address map" and "Registers"). RAM also carries the
/// memory size and CPU count where SeaBIOS and QEMU put them.
/// Not modelled: the periodic, alarm and update-ended interrupts (IRQ 8 is never raised), UIP (always
/// reads zero, so a reader never waits) and the divider chain. The update-ended flag (register C bit 4)
/// is set lazily when a read of register C finds that a second has passed since the previous read.
/// </summary>
public sealed partial class CmosRtc : IBusDevice, IStateful<CmosRtcState>
{
    public const ushort PortBase = 0x70;
    public const int PortCount = 2;
    public const byte Irq = 8;

    // Time registers (datasheet address map) and the century byte IBM put at 0x32.
    private const int Seconds = 0x00, Minutes = 0x02, Hours = 0x04, DayOfWeek = 0x06;
    private const int DayOfMonth = 0x07, Month = 0x08, Year = 0x09, Century = 0x32;
    private const int RegisterA = 0x0A, RegisterB = 0x0B, RegisterC = 0x0C, RegisterD = 0x0D;

    private const byte BSet = 0x80, BUpdateEndedInterruptEnable = 0x10, BBinary = 0x04, B24Hour = 0x02;
    private const byte CInterruptRequest = 0x80, CUpdateEnded = 0x10;
    private const byte DValidRam = 0x80;

    private const ulong KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;

    private readonly Lock _lock = new();
    private readonly Func<DateTimeOffset> _clock;
    private readonly byte[] _ram = new byte[128];
    private long _offsetTicks;          // guest time minus host time
    private long _lastRegisterCSecond;  // the guest second at the previous read of register C
    private byte _index;

    /// <param name="ramBelow4G">Guest RAM below 4 GiB, in bytes.</param>
    /// <param name="ramAbove4G">Guest RAM from 4 GiB up, in bytes.</param>
    /// <param name="cpuCount">Number of vCPUs (1-256).</param>
    /// <param name="clock">Host time source; UTC now when null.</param>
    public CmosRtc(ulong ramBelow4G, ulong ramAbove4G, int cpuCount, Func<DateTimeOffset>? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cpuCount, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cpuCount, 256);
        _clock = clock ?? (() => DateTimeOffset.UtcNow);
        _ram[RegisterA] = 0x26;            // 32.768 kHz time base, 1.024 kHz periodic rate
        _ram[RegisterB] = B24Hour;         // BCD, 24-hour, no interrupts
        WriteMemorySize(ramBelow4G, ramAbove4G);
        _ram[0x5F] = (byte)(cpuCount - 1);
        _lastRegisterCSecond = GuestNow().Ticks / TimeSpan.TicksPerSecond;
    }

    /// <summary>Whether the guest masked NMIs through bit 7 of the index port (recorded, no effect).</summary>
    public bool NmiMasked { get; private set; }

    public CmosRtcState SaveState()
    {
        lock (_lock)
            return new CmosRtcState
            {
                Ram = [.. _ram],
                Index = _index,
                NmiMasked = NmiMasked,
                OffsetTicks = _offsetTicks,
                LastRegisterCSecond = _lastRegisterCSecond,
            };
    }

    /// <summary>Loads <paramref name="state"/> after checking it; the clock continues from the time source at the saved offset.</summary>
    public void RestoreState(CmosRtcState state)
    {
        StateCheck.NotNull(state, "cmos");
        StateCheck.Length(state.Ram, _ram.Length, "cmos.Ram");
        StateCheck.InRange(state.Index, 0, 0x7F, "cmos.Index");
        // Any offset between two representable dates; beyond that the sum with the source could overflow.
        StateCheck.InRange(state.OffsetTicks, -DateTime.MaxValue.Ticks, DateTime.MaxValue.Ticks, "cmos.OffsetTicks");
        lock (_lock)
        {
            state.Ram.CopyTo(_ram, 0);
            _index = state.Index;
            NmiMasked = state.NmiMasked;
            _offsetTicks = state.OffsetTicks;
            _lastRegisterCSecond = state.LastRegisterCSecond;
        }
    }

    public void Read(ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
                data[i] = offset + (ulong)i == 1 ? ReadRegister(_index) : (byte)0xFF;   // the index port is write-only
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
            {
                ulong port = offset + (ulong)i;
                if (port == 0)
                {
                    _index = (byte)(data[i] & 0x7F);
                    NmiMasked = (data[i] & 0x80) != 0;
                }
                else if (port == 1)
                {
                    WriteRegister(_index, data[i]);
                }
            }
        }
    }

    /// <summary>
    /// Memory size bytes as QEMU's pc_cmos_init and SeaBIOS read them: 0x15/0x16 base memory in KiB,
    /// 0x17/0x18 and 0x30/0x31 KiB above 1 MiB, 0x34/0x35 64 KiB units above 16 MiB (both capped at
    /// 0xFFFF), 0x5B-0x5D 64 KiB units above 4 GiB.
    /// </summary>
    private void WriteMemorySize(ulong below4G, ulong above4G)
    {
        WriteWord(0x15, 640);
        ushort extended = (ushort)Math.Min(below4G > MiB ? (below4G - MiB) / KiB : 0, 0xFFFF);
        WriteWord(0x17, extended);
        WriteWord(0x30, extended);
        WriteWord(0x34, (ushort)Math.Min(below4G > 16 * MiB ? (below4G - 16 * MiB) / (64 * KiB) : 0, 0xFFFF));
        ulong high = Math.Min(above4G / (64 * KiB), 0xFF_FFFF);
        _ram[0x5B] = (byte)high;
        _ram[0x5C] = (byte)(high >> 8);
        _ram[0x5D] = (byte)(high >> 16);
    }

    private void WriteWord(int index, ushort value)
    {
        _ram[index] = (byte)value;
        _ram[index + 1] = (byte)(value >> 8);
    }

    private static bool IsTimeRegister(int index) =>
        index is Seconds or Minutes or Hours or DayOfWeek or DayOfMonth or Month or Year or Century;

    private bool Frozen => (_ram[RegisterB] & BSet) != 0;

    private byte ReadRegister(int index)
    {
        if (IsTimeRegister(index))
            return Frozen ? _ram[index] : RtcTimeEncoding.Encode(index, GuestNow(), _ram[RegisterB]);
        switch (index)
        {
            case RegisterA: return (byte)(_ram[RegisterA] & 0x7F);   // UIP (bit 7) never set
            case RegisterC: return ReadAndClearFlags();
            case RegisterD: return DValidRam;                        // VRT: the battery is fine
            default: return _ram[index];
        }
    }

    private void WriteRegister(int index, byte value)
    {
        if (IsTimeRegister(index))
        {
            // While the clock runs, a write changes that field of the running time.
            if (!Frozen) SnapshotTime();
            _ram[index] = value;
            if (!Frozen) ResumeFromRam();
            return;
        }
        switch (index)
        {
            case RegisterA: _ram[RegisterA] = (byte)(value & 0x7F); break;
            case RegisterB: WriteRegisterB(value); break;
            case RegisterC or RegisterD: break;   // read-only
            default: _ram[index] = value; break;
        }
    }

    private void WriteRegisterB(byte value)
    {
        bool wasFrozen = Frozen;
        if ((value & BSet) != 0) value &= unchecked((byte)~BUpdateEndedInterruptEnable);   // SET clears UIE
        _ram[RegisterB] = value;
        if (!wasFrozen && Frozen) SnapshotTime();
        else if (wasFrozen && !Frozen) ResumeFromRam();
    }

    /// <summary>SET was raised (or a field is being changed): the time registers hold the time now.</summary>
    private void SnapshotTime()
    {
        var now = GuestNow();
        foreach (int index in (ReadOnlySpan<int>)[Seconds, Minutes, Hours, DayOfWeek, DayOfMonth, Month, Year, Century])
            _ram[index] = RtcTimeEncoding.Encode(index, now, _ram[RegisterB]);
    }

    /// <summary>The clock restarts from the time registers; a time that is not a valid date leaves the clock as it was.</summary>
    private void ResumeFromRam()
    {
        if (RtcTimeEncoding.TryDecode(_ram, _ram[RegisterB], out var time))
            _offsetTicks = time.Ticks - _clock().UtcDateTime.Ticks;
    }

    private DateTime GuestNow()
    {
        long host = _clock().UtcDateTime.Ticks;
        long ticks = Math.Clamp(host + _offsetTicks, DateTime.MinValue.Ticks, DateTime.MaxValue.Ticks);
        return new DateTime(ticks, DateTimeKind.Utc);
    }

    private byte ReadAndClearFlags()
    {
        long second = GuestNow().Ticks / TimeSpan.TicksPerSecond;
        byte flags = _ram[RegisterC];
        if (second != _lastRegisterCSecond && !Frozen) flags |= CUpdateEnded;
        _lastRegisterCSecond = second;
        if ((flags & CUpdateEnded) != 0 && (_ram[RegisterB] & BUpdateEndedInterruptEnable) != 0) flags |= CInterruptRequest;
        _ram[RegisterC] = 0;   // datasheet: all flags clear when register C is read
        return flags;
    }
}
