using KvmSharp.Devices.Pci;

namespace KvmSharp.Tests.Devices.Pci;

public class PciConfigSpaceTests
{
    [Fact]
    public void HeaderFieldsAreReadOnly()
    {
        var f = new FakePciFunction();
        var c = f.Config;
        c.SetSubsystem(0x1AF4, 0x1100);
        c.InterruptPin = 1;
        for (int i = 0; i < 0x40; i += 4) c.Write32(i, 0xFFFF_FFFF);
        for (int i = 0; i < 0x40; i += 4) c.Write32(i, 0);

        Assert.Equal(FakePciFunction.Vendor, c.Read16(PciConfigSpace.VendorIdOffset));
        Assert.Equal(FakePciFunction.Device, c.Read16(PciConfigSpace.DeviceIdOffset));
        Assert.Equal(FakePciFunction.Class, c.Read32(0x08) >> 8);
        Assert.Equal(0x1AF4, c.Read16(PciConfigSpace.SubsystemVendorIdOffset));
        Assert.Equal(0x1100, c.Read16(PciConfigSpace.SubsystemIdOffset));
        Assert.Equal(1, c.Read8(PciConfigSpace.InterruptPinOffset));
        Assert.Equal(0x40, c.Read8(PciConfigSpace.CapabilitiesPointerOffset));
    }

    [Fact]
    public void CommandKeepsOnlyDefinedBitsAndInterruptLineIsScratch()
    {
        var c = new FakePciFunction().Config;
        c.Write16(PciConfigSpace.CommandOffset, 0xFFFF);
        Assert.Equal(0x0547, c.Read16(PciConfigSpace.CommandOffset)); // bits 0,1,2,6,8,10 (PCI 3.0 §6.2.2)
        c.Write16(PciConfigSpace.CommandOffset, 0);
        Assert.Equal(0, c.Read16(PciConfigSpace.CommandOffset));
        c.Write32(PciConfigSpace.InterruptLineOffset, 0xFFFF_FF0B);
        Assert.Equal(0x0B, c.Read8(PciConfigSpace.InterruptLineOffset));
        Assert.Equal(0, c.Read8(PciConfigSpace.InterruptPinOffset)); // pin stays read-only
    }

    [Fact]
    public void StatusErrorBitsAreWriteOneToClearAndCapabilityBitIsReadOnly()
    {
        var c = new FakePciFunction().Config;
        c.SetBytes(PciConfigSpace.StatusOffset, [0x10, 0x81]); // cap list + bit 8 + bit 15 (as if signalled)
        c.Write16(PciConfigSpace.StatusOffset, 0x0100);        // clear bit 8 only
        Assert.Equal(0x8010, c.Read16(PciConfigSpace.StatusOffset));
        c.Write16(PciConfigSpace.StatusOffset, 0xFFFF);
        Assert.Equal(0x0010, c.Read16(PciConfigSpace.StatusOffset));
    }

    [Fact]
    public void BarSizingFollowsTheAllOnesProbe()
    {
        // PCI 3.0 §6.2.5.1: write all ones, read back, the low bits hold the type, the rest the size mask.
        var c = new FakePciFunction().Config;
        for (int bar = 0; bar < 6; bar++) c.Write32(PciConfigSpace.BarOffset + 4 * bar, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_F000u, c.Read32(0x10));      // 4 KiB, 32-bit, not prefetchable
        Assert.Equal(0xFFFF_FFE1u, c.Read32(0x14));      // 32 bytes of I/O, bit 0 set
        Assert.Equal(0xFFFF_C00Cu, c.Read32(0x18));      // 16 KiB, type 10b (64-bit), prefetchable
        Assert.Equal(0xFFFF_FFFFu, c.Read32(0x1C));      // upper half: all address bits writable
        Assert.Equal(0u, c.Read32(0x20));                // undefined BARs read zero (§6.2.5.1)
        Assert.Equal(0u, c.Read32(0x24));

        // Linux's decoding (pci_size): size = ~(mask) + 1 over the address bits.
        Assert.Equal(0x1000u, ~(c.Read32(0x10) & ~0xFu) + 1);
        Assert.Equal(0x20u, (~(c.Read32(0x14) & ~0x3u) + 1) & 0xFFFF);
        ulong mask64 = ((ulong)c.Read32(0x1C) << 32) | (c.Read32(0x18) & ~0xFu);
        Assert.Equal(0x4000UL, ~mask64 + 1);
    }

    [Fact]
    public void BarAddressesComeBackAligned()
    {
        var c = new FakePciFunction().Config;
        c.Write32(0x10, 0xC000_1234);
        c.Write32(0x14, 0x0000_C0FF);
        c.Write32(0x18, 0x0000_8000);
        c.Write32(0x1C, 0x0000_0001);
        Assert.Equal(0xC000_1000UL, c.BarAddress(0));
        Assert.Equal(0xC0E0UL, c.BarAddress(1));
        Assert.Equal(0x1_0000_8000UL, c.BarAddress(2));
        Assert.Equal(0xC000_1000u, c.Read32(0x10));
        Assert.Equal(0xC0E1u, c.Read32(0x14));
    }

    [Fact]
    public void SixtyFourBitBarLargerThan4GiBMasksTheUpperHalf()
    {
        var c = new PciConfigSpace(1, 2, 0);
        c.DefineBar(0, PciBarKind.Memory64, 1UL << 34);
        c.Write32(0x10, 0xFFFF_FFFF);
        c.Write32(0x14, 0xFFFF_FFFF);
        Assert.Equal(0x0000_0004u, c.Read32(0x10));
        Assert.Equal(0xFFFF_FFFCu, c.Read32(0x14));
    }

    [Theory]
    [InlineData(PciBarKind.Memory32, 8UL)]
    [InlineData(PciBarKind.Memory32, 0x3000UL)]
    [InlineData(PciBarKind.Io, 512UL)]
    [InlineData(PciBarKind.Io, 2UL)]
    public void BadBarShapesAreRefused(PciBarKind kind, ulong size) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new PciConfigSpace(1, 2, 0).DefineBar(0, kind, size));

    [Fact]
    public void UpperHalfOfA64BitBarCannotBeRedefined()
    {
        var c = new PciConfigSpace(1, 2, 0);
        c.DefineBar(2, PciBarKind.Memory64, 0x1000);
        Assert.Throws<InvalidOperationException>(() => c.DefineBar(3, PciBarKind.Memory32, 0x1000));
        Assert.Throws<ArgumentOutOfRangeException>(() => c.DefineBar(5, PciBarKind.Memory64, 0x1000));
    }

    [Fact]
    public void CapabilityChainWalksAsLinuxDoes()
    {
        var c = new PciConfigSpace(1, 2, 0);
        Assert.Empty(c.WalkCapabilities());
        Assert.Equal(0, c.Read16(PciConfigSpace.StatusOffset) & PciConfigSpace.StatusCapabilitiesList);
        int a = c.AddCapability(0x09, 5);   // vendor-specific, odd length: the next one must be dword aligned
        int b = c.AddCapability(0x11, 12);
        int d = c.AddCapability(0x09, 16);
        Assert.Equal([(0x40, (byte)0x09), (0x48, (byte)0x11), (0x54, (byte)0x09)], c.WalkCapabilities());
        Assert.Equal((0x40, 0x48, 0x54), (a, b, d));
        c.Write32(a, 0);                    // the guest cannot break the chain
        Assert.Equal(3, c.WalkCapabilities().Count);
    }

    [Fact]
    public void CapabilitiesMustFitInTheFirst256Bytes()
    {
        var c = new PciConfigSpace(1, 2, 0, extended: true);
        c.AddCapability(0x09, 0xB0);
        Assert.Throws<InvalidOperationException>(() => c.AddCapability(0x09, 0x20));
    }

    [Theory]
    [InlineData(-4, 4)]
    [InlineData(254, 4)]
    [InlineData(256, 8)]
    [InlineData(int.MaxValue, 4)]
    [InlineData(int.MinValue, 8)]
    public void HostileOffsetsReadOnesAndWriteNothing(int offset, int length)
    {
        var c = new FakePciFunction().Config;
        var before = new byte[256];
        c.Read(0, before);
        var ones = new byte[length];
        Array.Fill(ones, (byte)0xFF);
        c.Write(offset, ones);
        var data = new byte[length];
        c.Read(offset, data);
        for (int i = 0; i < length; i++)
        {
            long at = (long)offset + i;
            Assert.Equal(at is >= 0 and < 256 ? before[at] : (byte)0xFF, data[i]);
        }
        var after = new byte[256];
        c.Read(0, after);
        Assert.Equal(before, after);
    }

    [Fact]
    public void ExtendedSpaceIs4KiB()
    {
        var c = new PciConfigSpace(1, 2, 0, extended: true);
        Assert.Equal(4096, c.Size);
        Assert.Equal(0u, c.Read32(0xFFC));
        Assert.Equal(0xFFFF_FFFFu, new PciConfigSpace(1, 2, 0).Read32(0x100));
    }
}
