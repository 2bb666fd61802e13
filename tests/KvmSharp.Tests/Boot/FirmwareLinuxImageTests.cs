using System.Buffers.Binary;
using KvmSharp.Boot;
using KvmSharp.Boot.Linux;

namespace KvmSharp.Tests.Boot;

/// <summary>The kernel as handed to firmware (QEMU's -kernel layout): the setup header filled in as boot.rst asks of a boot loader.</summary>
public class FirmwareLinuxImageTests(DebianKernelFixture kernel) : IClassFixture<DebianKernelFixture>
{
    [Fact]
    public void TheSetupHeaderPointsAtTheCommandLineAndTheInitrdBelowTheFirmwaresRam()
    {
        byte[] initrd = new byte[3 << 20];
        const ulong lowRamEnd = 256UL << 20;
        var image = FirmwareLinuxImage.Create(kernel.Bytes, initrd, "console=ttyS0 panic=-1", lowRamEnd);
        int setupSects = kernel.Bytes[0x1F1] == 0 ? 4 : kernel.Bytes[0x1F1];
        Assert.Equal((setupSects + 1) * 512, image.Setup.Length);
        Assert.Equal(kernel.Bytes.Length - image.Setup.Length, image.Kernel.Length);
        Assert.Equal(kernel.Bytes.AsSpan(image.Setup.Length).ToArray(), image.Kernel);
        Assert.Equal(0xB0, image.Setup[0x210]);
        Assert.Equal(0x80, image.Setup[0x211] & 0x80);                                  // CAN_USE_HEAP
        Assert.Equal(0xFE00, BinaryPrimitives.ReadUInt16LittleEndian(image.Setup.AsSpan(0x224)));
        Assert.Equal(0x20000u, BinaryPrimitives.ReadUInt32LittleEndian(image.Setup.AsSpan(0x228)));
        uint initrdAt = BinaryPrimitives.ReadUInt32LittleEndian(image.Setup.AsSpan(0x218));
        Assert.Equal(image.InitrdAddress, initrdAt);
        Assert.Equal((uint)initrd.Length, BinaryPrimitives.ReadUInt32LittleEndian(image.Setup.AsSpan(0x21C)));
        Assert.Equal(0u, initrdAt % 4096);
        Assert.True(initrdAt + (ulong)initrd.Length <= lowRamEnd - FirmwareLinuxImage.FirmwareReserve);
        Assert.True(initrdAt >= FirmwareLinuxImage.ProtectedModeAddress + (ulong)image.Kernel.Length);
        Assert.Equal("console=ttyS0 panic=-1\0"u8.ToArray(), image.CommandLine);
    }

    [Fact]
    public void AnInitrdThatDoesNotFitAndANonKernelAreRefusedInOneLine()
    {
        var tooBig = Assert.Throws<BootImageException>(() => FirmwareLinuxImage.Create(kernel.Bytes, new byte[200 << 20], "", 128UL << 20));
        Assert.Contains("does not fit", tooBig.Message);
        Assert.Throws<BootImageException>(() => FirmwareLinuxImage.Create(new byte[8192], [], "", 128UL << 20));
    }
}
