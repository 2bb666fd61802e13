using KvmSharp.Devices.Pci;

namespace KvmSharp.Tests.Devices.Pci;

public class PciIntxPinTests
{
    [Fact]
    public void PinDrivesTheLineUnlessInterruptDisableIsSet()
    {
        var config = new PciConfigSpace(1, 2, 0);
        var line = new RecordingInterruptLine();
        var pin = new PciIntxPin(config, line, pin: 2);
        Assert.Equal(2, config.InterruptPin);

        pin.SetLevel(true);
        Assert.True(line.High);
        Assert.NotEqual(0, config.Status & PciConfigSpace.StatusInterrupt);

        config.Write(PciConfigSpace.CommandOffset, [0x00, 0x04]);     // Interrupt Disable (§6.2.2)
        pin.CommandChanged();
        Assert.False(line.High);
        Assert.NotEqual(0, config.Status & PciConfigSpace.StatusInterrupt); // status still shows the request

        pin.SetLevel(false);
        config.Write(PciConfigSpace.CommandOffset, [0x00, 0x00]);
        pin.CommandChanged();
        Assert.False(line.High);
        Assert.Equal(0, config.Status & PciConfigSpace.StatusInterrupt);
        Assert.Equal([true, false], line.Changes);
    }

    [Fact]
    public void PinNumberIsChecked() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciIntxPin(new PciConfigSpace(1, 2, 0), new RecordingInterruptLine(), pin: 5));
}
