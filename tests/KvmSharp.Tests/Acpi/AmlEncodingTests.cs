using KvmSharp.Boot.Acpi;

namespace KvmSharp.Tests.Acpi;

public class AmlEncodingTests
{
    // ACPI 6.5 §20.2.4: the value counts the PkgLength bytes themselves.
    [Theory]
    [InlineData(0, new byte[] { 0x01 })]
    [InlineData(62, new byte[] { 0x3F })]              // total 63: the largest one-byte value
    [InlineData(63, new byte[] { 0x41, 0x04 })]        // total 65 (64 needs two bytes, and those count)
    [InlineData(64, new byte[] { 0x42, 0x04 })]
    [InlineData(4093, new byte[] { 0x4F, 0xFF })]      // total 4095: the largest two-byte value
    [InlineData(4094, new byte[] { 0x81, 0x00, 0x01 })] // total 4097
    [InlineData(4096, new byte[] { 0x83, 0x00, 0x01 })]
    [InlineData(0xFFFFC, new byte[] { 0x8F, 0xFF, 0xFF })]          // total 0xFFFFF: largest three-byte
    [InlineData(0xFFFFD, new byte[] { 0xC1, 0x00, 0x00, 0x01 })]
    public void PackageLengthUsesTheShortestForm(int contentLength, byte[] expected) =>
        Assert.Equal(expected, AmlEncoding.PackageLength(contentLength));

    [Fact]
    public void PackageLengthRejectsMoreThan28Bits() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AmlEncoding.PackageLength(AmlEncoding.MaxPackageLength));

    [Theory]
    [InlineData(0UL, new byte[] { 0x00 })]
    [InlineData(1UL, new byte[] { 0x01 })]
    [InlineData(2UL, new byte[] { 0x0A, 0x02 })]
    [InlineData(0xFFUL, new byte[] { 0x0A, 0xFF })]
    [InlineData(0x100UL, new byte[] { 0x0B, 0x00, 0x01 })]
    [InlineData(0xFFFFUL, new byte[] { 0x0B, 0xFF, 0xFF })]
    [InlineData(0x10000UL, new byte[] { 0x0C, 0x00, 0x00, 0x01, 0x00 })]
    [InlineData(0xFFFFFFFFUL, new byte[] { 0x0C, 0xFF, 0xFF, 0xFF, 0xFF })]
    [InlineData(0x1_0000_0000UL, new byte[] { 0x0E, 0, 0, 0, 0, 1, 0, 0, 0 })]
    [InlineData(ulong.MaxValue, new byte[] { 0xFF })]
    public void IntegersUseTheShortestPrefix(ulong value, byte[] expected) =>
        Assert.Equal(expected, AmlEncoding.Integer(value));

    [Theory]
    [InlineData("PNP0501", 0x0105D041u)]
    [InlineData("PNP0C02", 0x020CD041u)]
    [InlineData("PNP0A03", 0x030AD041u)]
    public void EisaIdIsCompressedAndByteSwapped(string id, uint expected) =>
        Assert.Equal(expected, AmlEncoding.EisaId(id));

    [Theory]
    [InlineData("pnp0501")]
    [InlineData("PNP050")]
    [InlineData("PNP05G1")]
    public void EisaIdRejectsMalformedIds(string id) =>
        Assert.Throws<ArgumentException>(() => AmlEncoding.EisaId(id));

    [Theory]
    [InlineData("_S5_", new byte[] { (byte)'_', (byte)'S', (byte)'5', (byte)'_' })]
    [InlineData("_SB", new byte[] { (byte)'_', (byte)'S', (byte)'B', (byte)'_' })]
    [InlineData("\\", new byte[] { 0x5C, 0x00 })]
    [InlineData("\\_SB_", new byte[] { 0x5C, (byte)'_', (byte)'S', (byte)'B', (byte)'_' })]
    [InlineData("\\_SB_.PCI0", new byte[] { 0x5C, 0x2E, (byte)'_', (byte)'S', (byte)'B', (byte)'_', (byte)'P', (byte)'C', (byte)'I', (byte)'0' })]
    [InlineData("^COM1", new byte[] { 0x5E, (byte)'C', (byte)'O', (byte)'M', (byte)'1' })]
    [InlineData("\\_SB.PCI0.ISA", new byte[] { 0x5C, 0x2F, 3, (byte)'_', (byte)'S', (byte)'B', (byte)'_', (byte)'P', (byte)'C', (byte)'I', (byte)'0', (byte)'I', (byte)'S', (byte)'A', (byte)'_' })]
    public void NameStringsEncodeRootPrefixesAndSegments(string path, byte[] expected) =>
        Assert.Equal(expected, AmlEncoding.NameString(path));

    [Theory]
    [InlineData("com1")]
    [InlineData("1COM")]
    [InlineData("TOOLONG")]
    [InlineData("\\_SB_..PCI0")]
    public void NameStringsRejectInvalidSegments(string path) =>
        Assert.Throws<ArgumentException>(() => AmlEncoding.NameString(path));

    [Fact]
    public void StringsAreNullTerminatedAscii()
    {
        Assert.Equal(new byte[] { 0x0D, (byte)'A', (byte)'B', 0x00 }, AmlEncoding.String("AB"));
        Assert.Throws<ArgumentException>(() => AmlEncoding.String("é"));
    }
}
