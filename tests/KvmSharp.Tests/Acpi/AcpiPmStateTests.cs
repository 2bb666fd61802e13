using KvmSharp.Devices.Acpi;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Acpi;

public class AcpiPmStateTests
{
    private const ulong Pm1Status = 0, Pm1Enable = 2, Pm1Control = 4, Timer = 8;

    private static AcpiPowerManagement Create(ManualClock clock, RecordingInterruptLine? sci = null) =>
        new(new RecordingMachineControl(), sci ?? new RecordingInterruptLine(), clock);

    private static uint Read(AcpiPowerManagement pm, ulong offset, int size = 2)
    {
        Span<byte> data = stackalloc byte[4];
        pm.Read(offset, data[..size]);
        return BitConverter.ToUInt32(data);
    }

    private static void Write16(AcpiPowerManagement pm, ulong offset, ushort value) => pm.Write(offset, BitConverter.GetBytes(value));

    [Fact]
    public void TimerContinuesFromTheSavedCountAndAPendingPowerButtonStillRaisesTheSci()
    {
        var clock = new ManualClock();
        var pm = Create(clock);
        Write16(pm, Pm1Enable, 1 << 8);
        Write16(pm, Pm1Control, 5 << 10);        // SLP_TYP reads back
        clock.Timestamp += 1_000_000;             // 1 ms: 3579 ticks
        pm.PressPowerButton();
        uint before = Read(pm, Timer, 4);
        var saved = StateFuzz.RoundTrip(pm.SaveState());

        var otherClock = new ManualClock { Timestamp = 987_654_321_000 };   // another process's time source
        var sci = new RecordingInterruptLine();
        var restored = Create(otherClock, sci);
        restored.RestoreState(saved);
        Assert.Equal([true], sci.Levels);
        Assert.Equal(before, Read(restored, Timer, 4));
        otherClock.Timestamp += 1_000_000_000;
        Assert.Equal(before + 3_579_545, Read(restored, Timer, 4));
        Assert.Equal(1u << 8, Read(restored, Pm1Status) & (1u << 8));
        Assert.Equal((5u << 10) | 1, Read(restored, Pm1Control));
        Write16(restored, Pm1Status, 1 << 8);    // the guest acknowledges the press
        Assert.Equal([true, false], sci.Levels);
    }

    [Fact]
    public void APowerButtonPressWhilePausedWaitsForResume()
    {
        var sci = new RecordingInterruptLine();
        var pm = Create(new ManualClock(), sci);
        Write16(pm, Pm1Enable, 1 << 8);
        pm.Pause();
        pm.PressPowerButton();
        Assert.Empty(sci.Levels);
        Assert.Equal(1 << 8, pm.SaveState().Status);
        pm.Resume();
        Assert.Equal([true], sci.Levels);
    }

    public static TheoryData<string, AcpiPmState> HostileStates()
    {
        var good = Create(new ManualClock()).SaveState();
        return new()
        {
            { "acpi-pm.Status", good with { Status = 1 << 1 } },
            { "acpi-pm.Enable", good with { Enable = 1 << 4 } },
            { "acpi-pm.Control", good with { Control = 1 << 13 } },   // SLP_EN is write-only: never saved
            { "acpi-pm.TimerTicks", good with { TimerTicks = ulong.MaxValue } },
            { "acpi-pm.TimerStatusEpoch", good with { TimerStatusEpoch = ulong.MaxValue } },
        };
    }

    [Theory]
    [MemberData(nameof(HostileStates))]
    public void HostileStatesAreRefusedNamingTheField(string field, AcpiPmState state)
    {
        var e = Assert.Throws<StateException>(() => Create(new ManualClock()).RestoreState(state));
        Assert.StartsWith(field + ":", e.Message);
    }

    [Fact]
    public void RandomMutationsOnlyEverThrowStateException()
    {
        var clock = new ManualClock();
        var pm = Create(clock);
        Write16(pm, Pm1Enable, 1 << 8);
        clock.Timestamp += 5_000_000_000;
        Assert.True(StateFuzz.Run(() => Create(clock), pm.SaveState(), seed: 3579545) > 0);
    }

    [Fact]
    public void ResetControlKeepsItsBitsAndRefusesOthers()
    {
        var machine = new RecordingMachineControl();
        var register = new ResetControlRegister(machine);
        register.Write(0, [0x0A]);
        var restored = new ResetControlRegister(machine);
        restored.RestoreState(StateFuzz.RoundTrip(register.SaveState()));
        Span<byte> b = stackalloc byte[1];
        restored.Read(0, b);
        Assert.Equal(0x0A, b[0]);
        Assert.Throws<StateException>(() => restored.RestoreState(new ResetControlState { Value = 0x04 }));
        Assert.Empty(machine.Requests);
    }
}
