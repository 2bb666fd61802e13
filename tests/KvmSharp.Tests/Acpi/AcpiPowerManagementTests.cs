using KvmSharp.Devices;
using KvmSharp.Devices.Acpi;

namespace KvmSharp.Tests.Acpi;

public class AcpiPowerManagementTests
{
    private const ulong Pm1Status = 0, Pm1Enable = 2, Pm1Control = 4, Timer = 8;

    private readonly RecordingMachineControl _machine = new();
    private readonly RecordingInterruptLine _sci = new();
    private readonly ManualClock _clock = new();
    private readonly AcpiPowerManagement _pm;

    public AcpiPowerManagementTests() => _pm = new AcpiPowerManagement(_machine, _sci, _clock);

    private ushort Read16(ulong offset)
    {
        Span<byte> data = stackalloc byte[2];
        _pm.Read(offset, data);
        return BitConverter.ToUInt16(data);
    }

    private uint Read32(ulong offset)
    {
        Span<byte> data = stackalloc byte[4];
        _pm.Read(offset, data);
        return BitConverter.ToUInt32(data);
    }

    private void Write16(ulong offset, ushort value) => _pm.Write(offset, BitConverter.GetBytes(value));

    [Fact]
    public void SciEnReadsOneEvenAfterTheGuestClearsIt()
    {
        Assert.Equal(1, Read16(Pm1Control) & 1);
        Write16(Pm1Control, 0);
        Assert.Equal(1, Read16(Pm1Control) & 1);
    }

    [Fact]
    public void SleepEnableWithS5TypePowersOff()
    {
        Write16(Pm1Control, (ushort)(5 << 10)); // ACPICA writes SLP_TYP first…
        Assert.Empty(_machine.Requests);
        Write16(Pm1Control, (ushort)(5 << 10 | 1 << 13)); // …then SLP_EN
        Assert.Equal([(StopRequest.PowerOff, 0)], _machine.Requests);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    public void OtherSleepTypesDoNothing(int sleepType)
    {
        Write16(Pm1Control, (ushort)(sleepType << 10 | 1 << 13));
        Assert.Empty(_machine.Requests);
        Assert.Equal(0, Read16(Pm1Control) & (1 << 13)); // SLP_EN is write-only
        Assert.Equal(sleepType, (Read16(Pm1Control) >> 10) & 7);
    }

    [Fact]
    public void ByteWriteOfTheHighHalfKeepsTheSleepTypeWritten()
    {
        _pm.Write(Pm1Control + 1, [(byte)((5 << 2) | (1 << 5))]); // SLP_TYP=5, SLP_EN in bits 10-13
        Assert.Equal([(StopRequest.PowerOff, 0)], _machine.Requests);
    }

    [Fact]
    public void TimerCountsAt3579545HzAndWrapsAt24Bits()
    {
        uint start = Read32(Timer);
        Assert.Equal(0u, start);
        _clock.Timestamp += 1_000_000_000; // one second
        Assert.Equal(3_579_545u, Read32(Timer));
        _clock.Timestamp += 4_000_000_000; // five seconds in all: 17,897,725 ticks, past 2^24
        Assert.Equal(17_897_725u & 0xFFFFFF, Read32(Timer));
    }

    [Fact]
    public void TimerStatusSetsWhenTheMsbTogglesAndClearsOnWriteOne()
    {
        Assert.Equal(0, Read16(Pm1Status) & 1);
        _clock.Timestamp += 2_400_000_000; // 8.59 M ticks > 2^23
        Assert.Equal(1, Read16(Pm1Status) & 1);
        Write16(Pm1Status, 1);
        Assert.Equal(0, Read16(Pm1Status) & 1);
    }

    [Fact]
    public void PowerButtonRaisesSciOnlyWhenEnabledAndStatusIsWriteOneToClear()
    {
        _pm.PressPowerButton();
        Assert.Equal(1 << 8, Read16(Pm1Status) & (1 << 8));
        Assert.Empty(_sci.Levels);
        Write16(Pm1Enable, 1 << 8);
        Assert.Equal(1 << 8, Read16(Pm1Enable));
        Assert.Equal([true], _sci.Levels);
        Write16(Pm1Status, 0); // writing 0 clears nothing
        Assert.Equal(1 << 8, Read16(Pm1Status) & (1 << 8));
        Write16(Pm1Status, 1 << 8);
        Assert.Equal(0, Read16(Pm1Status) & (1 << 8));
        Assert.Equal([true, false], _sci.Levels);
    }

    [Fact]
    public void ReservedBytesReadZeroAndBytesPastTheBlockReadOnes()
    {
        Assert.Equal(0, Read16(6));
        Span<byte> data = stackalloc byte[4];
        _pm.Read(10, data);
        Assert.Equal(0xFF, data[2]);
        Assert.Equal(0xFF, data[3]);
    }

    [Fact]
    public void DescribesItsPortsAsMotherboardResources()
    {
        var aml = new KvmSharp.Boot.Acpi.AmlBuilder();
        _pm.WriteAml(aml);
        byte[] io = new KvmSharp.Boot.Acpi.ResourceTemplate().Io(0x600, 12).ToArray()[..8];
        Assert.True(aml.ToArray().AsSpan().IndexOf(io) > 0);
    }
}

public class ResetControlRegisterTests
{
    [Theory]
    [InlineData(0x06)]
    [InlineData(0x0E)]
    [InlineData(0x04)]
    public void WritingRstCpuResets(byte value)
    {
        var machine = new RecordingMachineControl();
        new ResetControlRegister(machine).Write(0, [value]);
        Assert.Equal([(StopRequest.Reset, 0)], machine.Requests);
    }

    [Fact]
    public void WritingWithoutRstCpuOnlyLatchesTheOtherBits()
    {
        var machine = new RecordingMachineControl();
        var register = new ResetControlRegister(machine);
        register.Write(0, [0x02]);
        Assert.Empty(machine.Requests);
        Span<byte> data = stackalloc byte[1];
        register.Read(0, data);
        Assert.Equal(0x02, data[0]);
    }
}
