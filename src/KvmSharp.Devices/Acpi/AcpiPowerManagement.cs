using System.Buffers.Binary;
using KvmSharp.Boot.Acpi;
using KvmSharp.Devices.Bus;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Devices.Acpi;

/// <summary>
/// The ACPI fixed-hardware PM block (ACPI 6.5 §4.8.3) at the port base the FADT names, laid out as
/// <see cref="AcpiPmLayout"/> says: PM1_STS and PM1_EN (§4.8.3.1), PM1_CNT (§4.8.3.2) and the PM timer
/// (§4.8.3.3). The machine is always in ACPI mode (FADT SMI_CMD is 0), so SCI_EN reads as 1. Writing
/// SLP_EN with SLP_TYP = <see cref="AcpiPmLayout.S5SleepType"/> powers the machine off; other sleep states
/// are not supported and such writes do nothing. The fixed power button is supported
/// (<see cref="PressPowerButton"/>); its status raises the SCI when enabled. The timer's own interrupt
/// (TMR_EN) is not delivered: TMR_STS is kept, but nothing raises the SCI when it sets (no OS we target
/// uses it). Thread-safe; the register path does not allocate.
/// </summary>
public sealed class AcpiPowerManagement : IBusDevice, IAcpiDevice, IStateful<AcpiPmState>, IPausable
{
    /// <summary>The PM timer's rate, 3.579545 MHz (§4.8.3.3).</summary>
    public const long TimerFrequency = 3_579_545;
    private const uint TimerMask = 0xFF_FFFF; // 24 bits: the FADT leaves TMR_VAL_EXT clear.
    private const int TimerMsbShift = 23;

    // PM1_STS / PM1_EN bits (§4.8.3.1, Tables 4.15 and 4.16).
    private const ushort TimerStatus = 1 << 0;
    private const ushort PowerButtonStatus = 1 << 8;
    private const ushort StatusBits = TimerStatus | (1 << 4) | (1 << 5) | PowerButtonStatus | (1 << 9) | (1 << 10) | (1 << 14) | (1 << 15);
    private const ushort PowerButtonEnable = 1 << 8;
    private const ushort EnableBits = (1 << 0) | (1 << 5) | PowerButtonEnable | (1 << 9) | (1 << 10) | (1 << 14);

    // PM1_CNT bits (§4.8.3.2.1, Table 4.18).
    private const ushort SciEnable = 1 << 0;
    private const int SleepTypeShift = 10;
    private const ushort SleepTypeMask = 0b111 << SleepTypeShift;
    private const ushort SleepEnable = 1 << 13;
    /// <summary>Bits that read back as written: BM_RLD and SLP_TYP (GBL_RLS and SLP_EN are write-only).</summary>
    private const ushort ControlReadBack = (1 << 1) | SleepTypeMask;

    private readonly IMachineControl _machine;
    private readonly IInterruptLine? _sci;
    private readonly TimeProvider _clock;
    private long _timerStart;
    private readonly Lock _lock = new();
    private ushort _status;
    private ushort _enable;
    private ushort _control;
    private ulong _timerStatusEpoch;
    private bool _sciLevel;
    private bool _paused;   // a power button press latches its status; the SCI waits for Resume

    /// <summary>A hundred years of timer ticks: far beyond any machine's uptime, and small enough that no arithmetic on it overflows.</summary>
    private const ulong MaxTimerTicks = (ulong)TimerFrequency * 3600 * 24 * 366 * 100;

    /// <param name="machine">Receives the power-off request.</param>
    /// <param name="sci">The SCI's interrupt line (ISA IRQ <see cref="AcpiPlatform.SciIrq"/>), or null when none is wired.</param>
    /// <param name="clock">Source of the timer; <see cref="TimeProvider.System"/> (monotonic) when null.</param>
    /// <param name="portBase">Where the block is registered; only used to describe it in the DSDT.</param>
    public AcpiPowerManagement(IMachineControl machine, IInterruptLine? sci = null, TimeProvider? clock = null,
        ushort portBase = MemoryMap.AcpiPmIoBase)
    {
        _machine = machine ?? throw new ArgumentNullException(nameof(machine));
        _sci = sci;
        _clock = clock ?? TimeProvider.System;
        _timerStart = _clock.GetTimestamp();
        PortBase = portBase;
    }

    /// <summary>First port of the block.</summary>
    public ushort PortBase { get; }

    /// <summary>Ports to register the device for.</summary>
    public const int PortCount = AcpiPmLayout.BlockLength;

    /// <summary>A press of the fixed-feature power button (§4.8.2.2.1.1): the guest's cue for an orderly shutdown.</summary>
    public void PressPowerButton()
    {
        lock (_lock)
        {
            _status |= PowerButtonStatus;
            if (!_paused) UpdateSci();
        }
    }

    public void Read(ulong offset, Span<byte> data)
    {
        Span<byte> registers = stackalloc byte[AcpiPmLayout.BlockLength];
        ulong ticks = TimerTicks();
        lock (_lock)
        {
            ushort status = _status;
            if (ticks >> TimerMsbShift != _timerStatusEpoch)
                status |= TimerStatus; // the timer's MSB has toggled since the guest last cleared TMR_STS
            BinaryPrimitives.WriteUInt16LittleEndian(registers[AcpiPmLayout.Pm1EventOffset..], status);
            BinaryPrimitives.WriteUInt16LittleEndian(registers[(AcpiPmLayout.Pm1EventOffset + 2)..], _enable);
            BinaryPrimitives.WriteUInt16LittleEndian(registers[AcpiPmLayout.Pm1ControlOffset..], (ushort)(_control | SciEnable));
        }
        BinaryPrimitives.WriteUInt32LittleEndian(registers[AcpiPmLayout.TimerOffset..], (uint)ticks & TimerMask);
        for (int i = 0; i < data.Length; i++)
            data[i] = i < registers.Length && offset < (ulong)(registers.Length - i) ? registers[(int)offset + i] : (byte)0xFF;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        // Gather the written bytes per 16-bit register, with a mask of which bytes the guest wrote, so a
        // byte write to one half leaves the other half alone.
        ushort statusValue = 0, statusMask = 0, enableValue = 0, enableMask = 0, controlValue = 0, controlMask = 0;
        for (int i = 0; i < data.Length; i++)
        {
            if (i >= AcpiPmLayout.BlockLength || offset >= (ulong)(AcpiPmLayout.BlockLength - i)) break;
            int at = (int)offset + i;
            int shift = 8 * (at & 1);
            switch (at & ~1)
            {
                case AcpiPmLayout.Pm1EventOffset: statusValue |= (ushort)(data[i] << shift); statusMask |= (ushort)(0xFF << shift); break;
                case AcpiPmLayout.Pm1EventOffset + 2: enableValue |= (ushort)(data[i] << shift); enableMask |= (ushort)(0xFF << shift); break;
                case AcpiPmLayout.Pm1ControlOffset: controlValue |= (ushort)(data[i] << shift); controlMask |= (ushort)(0xFF << shift); break;
                default: break; // reserved bytes and the read-only timer
            }
        }

        bool powerOff = false;
        lock (_lock)
        {
            ushort clear = (ushort)(statusValue & statusMask & StatusBits); // write-1-to-clear
            _status &= (ushort)~clear;
            if ((clear & TimerStatus) != 0)
                _timerStatusEpoch = TimerTicks() >> TimerMsbShift;
            _enable = (ushort)((_enable & ~enableMask) | (enableValue & enableMask & EnableBits));
            if (controlMask != 0)
            {
                ushort control = (ushort)((_control & ~controlMask) | (controlValue & controlMask));
                powerOff = (control & SleepEnable) != 0
                    && (control & SleepTypeMask) >> SleepTypeShift == AcpiPmLayout.S5SleepType;
                _control = (ushort)(control & ControlReadBack);
            }
            UpdateSci();
        }
        if (powerOff)
            _machine.RequestStop(StopRequest.PowerOff, 0);
    }

    public AcpiPmState SaveState()
    {
        ulong ticks = TimerTicks();
        lock (_lock)
            return new AcpiPmState
            {
                Status = _status,
                Enable = _enable,
                Control = _control,
                TimerTicks = ticks,
                TimerStatusEpoch = _timerStatusEpoch,
            };
    }

    /// <summary>
    /// Loads <paramref name="state"/> after checking it: the timer continues from the saved count, and the SCI
    /// is driven to the level the restored status and enable bits call for.
    /// </summary>
    public void RestoreState(AcpiPmState state)
    {
        StateCheck.NotNull(state, "acpi-pm");
        StateCheck.That((state.Status & ~StatusBits) == 0, "acpi-pm.Status", $"0x{state.Status:x4} sets bits PM1_STS does not have");
        StateCheck.That((state.Enable & ~EnableBits) == 0, "acpi-pm.Enable", $"0x{state.Enable:x4} sets bits PM1_EN does not have");
        StateCheck.That((state.Control & ~ControlReadBack) == 0, "acpi-pm.Control", $"0x{state.Control:x4} sets bits PM1_CNT does not keep");
        StateCheck.AtMost(state.TimerTicks, MaxTimerTicks, "acpi-pm.TimerTicks");
        StateCheck.AtMost(state.TimerStatusEpoch, MaxTimerTicks >> TimerMsbShift, "acpi-pm.TimerStatusEpoch");
        // Rounded up, so that converting back (rounded down) gives the saved count exactly where the source ticks faster than the timer.
        long elapsed = (long)(((Int128)state.TimerTicks * _clock.TimestampFrequency + TimerFrequency - 1) / TimerFrequency);
        lock (_lock)
        {
            _status = state.Status;
            _enable = state.Enable;
            _control = state.Control;
            _timerStatusEpoch = state.TimerStatusEpoch;
            _timerStart = _clock.GetTimestamp() - elapsed;
            UpdateSci();
        }
    }

    /// <summary>Until <see cref="Resume"/>, a power button press only latches PWRBTN_STS; the SCI keeps its level.</summary>
    public void Pause()
    {
        lock (_lock) _paused = true;
    }

    public void Resume()
    {
        lock (_lock)
        {
            _paused = false;
            UpdateSci();
        }
    }

    /// <summary>
    /// Reserves the block as motherboard resources (PNP0C02, ACPI 6.5 §6.1.5 / PnP ID list) so the OS does not
    /// hand its ports to another device.
    /// </summary>
    public void WriteAml(AmlBuilder aml) =>
        aml.Device("PMIO", d =>
        {
            d.NameEisaId("_HID", "PNP0C02");
            d.NameString("_UID", "PMIO");
            d.NameResources("_CRS", r => r.Io(PortBase, AcpiPmLayout.BlockLength));
        });

    /// <summary>3.579545 MHz ticks since the device was created, from the monotonic clock.</summary>
    private ulong TimerTicks()
    {
        long elapsed = _clock.GetTimestamp() - _timerStart;
        return (ulong)(long)((Int128)Math.Max(elapsed, 0) * TimerFrequency / _clock.TimestampFrequency);
    }

    /// <summary>The SCI is a level: high while SCI_EN is set and an enabled event's status is set.</summary>
    private void UpdateSci()
    {
        bool level = (_status & _enable & PowerButtonStatus) != 0;
        if (level == _sciLevel) return;
        _sciLevel = level;
        _sci?.SetLevel(level);
    }
}
