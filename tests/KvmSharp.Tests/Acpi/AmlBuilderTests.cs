using KvmSharp.Boot.Acpi;

namespace KvmSharp.Tests.Acpi;

public class AmlBuilderTests
{
    [Fact]
    public void NameWithIntegerIsNameOpNameAndData() =>
        Assert.Equal(new byte[] { 0x08, (byte)'_', (byte)'U', (byte)'I', (byte)'D', 0x0A, 0x05 },
            new AmlBuilder().Name("_UID", 5).ToArray());

    [Fact]
    public void NameEisaIdIsADword() =>
        Assert.Equal(new byte[] { 0x08, (byte)'_', (byte)'H', (byte)'I', (byte)'D', 0x0C, 0x41, 0xD0, 0x05, 0x01 },
            new AmlBuilder().NameEisaId("_HID", "PNP0501").ToArray());

    [Fact]
    public void S5PackageHasCountAndElements() =>
        Assert.Equal(new byte[] { 0x08, 0x5C, (byte)'_', (byte)'S', (byte)'5', (byte)'_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00 },
            new AmlBuilder().NamePackage("\\_S5_", 5, 5, 0, 0).ToArray());

    [Fact]
    public void DeviceIsExtOpWithPackageLengthCoveringNameAndBody()
    {
        byte[] aml = new AmlBuilder().Device("COM1", d => d.Name("_UID", 1)).ToArray();
        // 5B 82 PkgLength | "COM1" | 08 "_UID" 01
        Assert.Equal(new byte[] { 0x5B, 0x82, 0x0B, (byte)'C', (byte)'O', (byte)'M', (byte)'1', 0x08, (byte)'_', (byte)'U', (byte)'I', (byte)'D', 0x01 }, aml);
    }

    [Fact]
    public void ScopeWithALargeBodyUsesATwoBytePackageLength()
    {
        byte[] body = new byte[100];
        byte[] aml = new AmlBuilder().Scope("\\_SB_", s => s.Raw(body)).ToArray();
        int content = 5 + body.Length; // name string + body
        Assert.Equal(0x10, aml[0]);
        Assert.Equal(AmlEncoding.PackageLength(content), aml[1..3]);
        Assert.Equal(1 + 2 + content, aml.Length);
    }

    [Fact]
    public void MethodFlagsHoldArgCountAndSerialized()
    {
        byte[] aml = new AmlBuilder().Method("_STA", 0, serialized: true, m => m.Return(0x0F)).ToArray();
        Assert.Equal(new byte[] { 0x14, 0x09, (byte)'_', (byte)'S', (byte)'T', (byte)'A', 0x08, 0xA4, 0x0A, 0x0F }, aml);
        Assert.Equal(0x02, new AmlBuilder().Method("FOO", 2, false, _ => { }).ToArray()[6]);
        Assert.Throws<ArgumentOutOfRangeException>(() => new AmlBuilder().Method("FOO", 8, false, _ => { }));
    }

    [Fact]
    public void ResourceTemplateEncodesDescriptorsAndEndTag()
    {
        byte[] resources = new ResourceTemplate().Io(0x3F8, 8).Irq(4).Memory32Fixed(0xFEC00000, 0x1000, writable: true).ToArray();
        Assert.Equal(new byte[]
        {
            0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, // IO(Decode16, 0x3F8, 0x3F8, 1, 8)
            0x22, 0x10, 0x00,                               // IRQNoFlags() {4}
            0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0xC0, 0xFE, 0x00, 0x10, 0x00, 0x00, // Memory32Fixed
            0x79, 0x00,                                     // End Tag, checksum 0 = valid
        }, resources);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ResourceTemplate().Irq(16));
    }

    [Fact]
    public void NameResourcesWrapsTheTemplateInABuffer()
    {
        byte[] aml = new AmlBuilder().NameResources("_CRS", r => r.Io(0x600, 12)).ToArray();
        // 08 "_CRS" 11 PkgLength(0x0D) 0A 0A <8 bytes IO> <2 bytes end tag>
        Assert.Equal(new byte[] { 0x08, (byte)'_', (byte)'C', (byte)'R', (byte)'S', 0x11, 0x0D, 0x0A, 0x0A }, aml[..9]);
        Assert.Equal(9 + 10, aml.Length);
    }
}
