using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Emulate.Platform;

/// <summary>GSI routing (KVM's irqchip routing with the MADT's IRQ0 → GSI2 override), what the chipset claims, and the PIT wired to IRQ 0.</summary>
public class LegacyChipsetTests
{
    private const ulong IoRegSel = MemoryMap.IoApicStart, IoWin = MemoryMap.IoApicStart + 0x10;

    private readonly ManualClock _clock = new();
    private readonly RecordingApicBus _bus = new();

    private LegacyChipset Create(bool withPit = true) => new(_bus, _clock, withPit);

    private static void ProgramIoApic(LegacyChipset chipset, int pin, uint low)
    {
        Assert.True(chipset.TryWriteMmio(IoRegSel, 4, (ulong)(0x10 + 2 * pin)));
        Assert.True(chipset.TryWriteMmio(IoWin, 4, low));
    }

    private static void InitializePics(LegacyChipset chipset, byte masterMask, byte slaveMask)
    {
        foreach (var (port, value) in new (ushort, byte)[]
                 {
                     (0x20, 0x11), (0x21, 0x30), (0x21, 0x04), (0x21, 0x01),
                     (0xA0, 0x11), (0xA1, 0x38), (0xA1, 0x02), (0xA1, 0x01),
                     (0x21, masterMask), (0xA1, slaveMask),
                 })
            Assert.True(chipset.TryWritePort(port, 1, value));
    }

    [Fact]
    public void Gsi0ReachesPicIr0AndIoApicPin2()
    {
        var chipset = Create();
        InitializePics(chipset, 0xFA, 0xFF);
        ProgramIoApic(chipset, 0, 0x20);
        ProgramIoApic(chipset, 2, 0x22);
        chipset.SetInterruptLine(0, true);
        Assert.Equal([new InterruptMessage(0x22, ApicDeliveryMode.Fixed, 0, false, false)], _bus.Messages);
        Assert.True(chipset.InterruptRequested);
        Assert.Equal(0x30, chipset.Acknowledge());
    }

    [Fact]
    public void Gsi2IsTheCascadeAndReachesNothing()
    {
        var chipset = Create();
        InitializePics(chipset, 0x00, 0xFF);
        ProgramIoApic(chipset, 2, 0x22);
        chipset.SetInterruptLine(2, true);
        Assert.Empty(_bus.Messages);
        Assert.False(chipset.InterruptRequested);
    }

    [Fact]
    public void IsaGsisReachBothControllersAndHigherOnesOnlyTheIoApic()
    {
        var chipset = Create();
        InitializePics(chipset, 0x00, 0x00);
        ProgramIoApic(chipset, 9, 0x29 | 1 << 15);
        ProgramIoApic(chipset, 16, 0x40 | 1 << 15);
        chipset.SetInterruptLine(16, true);
        Assert.False(chipset.InterruptRequested);
        Assert.Equal(0x40, Assert.Single(_bus.Messages).Vector);

        chipset.SetInterruptLine(9, true);    // the SCI, level
        Assert.Equal(0x29, _bus.Messages[^1].Vector);
        Assert.True(chipset.InterruptRequested);
        Assert.Equal(0x39, chipset.Acknowledge());

        chipset.EndOfInterrupt(0x29);         // the LAPIC's EOI reaches the IOAPIC: still high, so again
        Assert.Equal(3, _bus.Messages.Count);

        chipset.SetInterruptLine(24, true);   // no such GSI: a device bug, ignored
        chipset.SetInterruptLine(uint.MaxValue, true);
        Assert.Equal(3, _bus.Messages.Count);
    }

    [Fact]
    public void ClaimsExactlyItsPortsAndTheIoApicWindow()
    {
        var chipset = Create();
        foreach (ushort port in new ushort[] { 0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x41, 0x42, 0x43, 0x61 })
        {
            Assert.True(chipset.TryReadPort(port, 1, out _), $"port {port:X}");
            Assert.True(chipset.TryWritePort(port, 2, 0), $"port {port:X}");
        }
        foreach (ushort port in new ushort[] { 0x1F, 0x22, 0x3F, 0x44, 0x60, 0x64, 0x70, 0x9F, 0xA2, 0x4CF, 0x4D2, 0x3F8, 0xCF9 })
        {
            Assert.False(chipset.TryReadPort(port, 1, out _), $"port {port:X}");
            Assert.False(chipset.TryWritePort(port, 1, 0), $"port {port:X}");
        }
        Assert.True(chipset.TryReadMmio(MemoryMap.IoApicStart, 4, out _));
        Assert.True(chipset.TryReadMmio(MemoryMap.IoApicStart + 0xFF, 1, out _));
        Assert.False(chipset.TryReadMmio(MemoryMap.IoApicStart - 1, 1, out _));
        Assert.False(chipset.TryReadMmio(MemoryMap.IoApicStart + 0x100, 4, out _));
        Assert.False(chipset.TryWriteMmio(MemoryMap.LapicStart, 4, 0));
        Assert.False(chipset.TryReadMmio(0, 4, out _));
    }

    [Fact]
    public void WithoutPitItsPortsAreUnclaimedAndNothingIsTimed()
    {
        var chipset = Create(withPit: false);
        Assert.Empty(chipset.TimedDevices);
        foreach (ushort port in new ushort[] { 0x40, 0x41, 0x42, 0x43, 0x61 })
            Assert.False(chipset.TryWritePort(port, 1, 0x34), $"port {port:X}");
        Assert.True(chipset.TryReadPort(0x20, 1, out _));
        Assert.Single(Create(withPit: true).TimedDevices);
    }

    [Fact]
    public void PitTickArrivesOnIoApicPin2AndAtThePic()
    {
        var chipset = Create();
        InitializePics(chipset, 0xFA, 0xFF);
        ProgramIoApic(chipset, 2, 0x30);
        chipset.TryWritePort(0x43, 1, 0x34);
        chipset.TryWritePort(0x40, 1, 0xA9);
        chipset.TryWritePort(0x40, 1, 0x04);
        _bus.Messages.Clear();
        Assert.Equal(0x30, chipset.Acknowledge());   // the control word's OUT rise
        chipset.TryWritePort(0x20, 1, 0x20);

        var timer = Assert.Single(chipset.TimedDevices);
        _clock.Nanoseconds = timer.NextDeadline;
        timer.Update(_clock.Nanoseconds);
        Assert.Equal(0x30, Assert.Single(_bus.Messages).Vector);
        Assert.True(chipset.InterruptRequested);
        Assert.Equal(0x30, chipset.Acknowledge());
    }
}
