using System.Buffers.Binary;
using KvmSharp.Devices.Bus;
using KvmSharp.Devices.Pci;

namespace KvmSharp.Tests.Devices.Pci;

public class PciBusTests
{
    private const ulong HoleStart = 0xC000_0000, HoleLength = 0x2000_0000;
    private const ulong HighStart = 0x1_0000_0000, HighLength = 0x1_0000_0000;

    private readonly IoBus _mmio = new("mmio");
    private readonly IoBus _pio = new("pio");
    private readonly PciBus _bus;
    private readonly PciLegacyConfigAccess _legacy;
    private readonly FakePciFunction _device = new();

    public PciBusTests()
    {
        _bus = new PciBus(_mmio, _pio, [new(HoleStart, HoleLength), new(HighStart, HighLength)], new(0x1000, 0xF000));
        _bus.Attach(0, 0, PciHostBridge.Generic());
        _bus.Attach(3, 0, _device);
        _legacy = new PciLegacyConfigAccess(_bus);
        _pio.Register(PciLegacyConfigAccess.AddressPortBase, 4, _legacy.AddressPort);
        _pio.Register(PciLegacyConfigAccess.DataPortBase, 4, _legacy.DataPort);
    }

    private static uint Address(int bus, int slot, int fn, int reg) =>
        0x8000_0000u | (uint)(bus << 16) | (uint)(slot << 11) | (uint)(fn << 8) | (uint)reg;

    private void Out32(ushort port, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _pio.Write(port, b);
    }

    private uint In(ushort port, int width)
    {
        Span<byte> b = stackalloc byte[4];
        _pio.Read(port, b[..width]);
        return BinaryPrimitives.ReadUInt32LittleEndian(b) & (width == 4 ? 0xFFFF_FFFF : (1u << (8 * width)) - 1);
    }

    private void Out(ushort port, int width, uint value)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        _pio.Write(port, b[..width]);
    }

    private uint LegacyRead32(int slot, int reg)
    {
        Out32(0xCF8, Address(0, slot, 0, reg));
        return In(0xCFC, 4);
    }

    private void LegacyWrite32(int slot, int reg, uint value)
    {
        Out32(0xCF8, Address(0, slot, 0, reg));
        Out32(0xCFC, value);
    }

    [Fact]
    public void HostBridgeIsDeviceZero()
    {
        Assert.Equal(0x0008_1B36u, LegacyRead32(0, 0));
        Assert.Equal(0x0600_0000u, LegacyRead32(0, 8) & 0xFFFF_FF00);
    }

    [Fact]
    public void LegacyAccessOfEveryWidthReachesTheRightBytes()
    {
        Out32(0xCF8, Address(0, 3, 0, 0));
        Assert.Equal(0x1041_1AF4u, In(0xCFC, 4));
        Assert.Equal(0x1AF4u, In(0xCFC, 2));
        Assert.Equal(0x1041u, In(0xCFE, 2));
        Assert.Equal(0xF4u, In(0xCFC, 1));
        Assert.Equal(0x1Au, In(0xCFD, 1));
        Assert.Equal(0x41u, In(0xCFE, 1));
        Assert.Equal(0x10u, In(0xCFF, 1));

        // Interrupt line is byte 0 of dword 0x3C: write it through 0xCFC; byte 1 (pin) is read-only.
        Out32(0xCF8, Address(0, 3, 0, 0x3C));
        Out(0xCFC, 2, 0x7F0A);
        Assert.Equal(0x0Au, In(0xCFC, 1));
        Out(0xCFC, 1, 0x05);
        Assert.Equal(0x0005u, In(0xCFC, 2));

        // Command is the low word of dword 4; a byte write at 0xCFD reaches bit 10 (interrupt disable).
        Out32(0xCF8, Address(0, 3, 0, 4));
        Out(0xCFD, 1, 0x04);
        Assert.Equal((uint)PciConfigSpace.CommandInterruptDisable, In(0xCFC, 2));
    }

    [Fact]
    public void ConfigAddressKeepsOnlyItsDefinedBits()
    {
        Out32(0xCF8, 0xFFFF_FFFF);
        Assert.Equal(0x80FF_FFFCu, In(0xCF8, 4));
        // Linux's pci_check_type1 writes a byte to 0xCFB, then expects CONFIG_ADDRESS to hold a dword.
        Out(0xCFB, 1, 0x01);
        Assert.Equal(0x80FF_FFFCu, In(0xCF8, 4));
        Assert.Equal(0xFFFFu, In(0xCF8, 2));
    }

    [Fact]
    public void DisabledOrEmptySelectionsReadAllOnes()
    {
        Out32(0xCF8, Address(0, 3, 0, 0) & 0x7FFF_FFFF); // enable bit clear
        Assert.Equal(0xFFFF_FFFFu, In(0xCFC, 4));
        Assert.Equal(0xFFFF_FFFFu, LegacyRead32(4, 0));  // empty slot
        Out32(0xCF8, Address(0, 3, 1, 0));               // function 1 of a single-function slot
        Assert.Equal(0xFFFF_FFFFu, In(0xCFC, 4));
        Out32(0xCF8, Address(1, 3, 0, 0));               // no bus 1
        Assert.Equal(0xFFFF_FFFFu, In(0xCFC, 4));
        LegacyWrite32(4, 4, 0xFFFF_FFFF);                // writes to nothing are dropped
        Assert.Equal(0, _device.ConfigWrites);
    }

    [Fact]
    public void EcamDecodesBusDeviceFunctionRegister()
    {
        var ecam = new PciEcam(_bus, busCount: 2);
        Assert.Equal(2UL << 20, ecam.Length);
        _mmio.Register(0xE000_0000, ecam.Length, ecam);
        Span<byte> d = stackalloc byte[4];
        ulong fn = 0xE000_0000 + (3UL << 15);
        _mmio.Read(fn, d);
        Assert.Equal(0x1041_1AF4u, BinaryPrimitives.ReadUInt32LittleEndian(d));
        _mmio.Read(fn + 0xA, d[..2]);
        Assert.Equal(0x0200, BinaryPrimitives.ReadUInt16LittleEndian(d)); // class base/sub
        _mmio.Write(fn + 0x3C, [0x0B]);
        Assert.Equal(0x0B, _device.Config.InterruptLine);
        _mmio.Read(fn + 0x100, d);                                       // past a 256-byte space
        Assert.Equal(0xFFFF_FFFFu, BinaryPrimitives.ReadUInt32LittleEndian(d));
        _mmio.Read(0xE000_0000 + (1UL << 20) + (3UL << 15), d);          // same slot, bus 1: nothing
        Assert.Equal(0xFFFF_FFFFu, BinaryPrimitives.ReadUInt32LittleEndian(d));
        _mmio.Read(0xE000_0000 + (3UL << 15) + (2UL << 12), d);          // function 2: nothing
        Assert.Equal(0xFFFF_FFFFu, BinaryPrimitives.ReadUInt32LittleEndian(d));

        int slot, f, reg, b;
        PciEcam.Decode(0x0AB4_D123, out b, out slot, out f, out reg);
        Assert.Equal((0xAB, 0x09, 0x5, 0x123), (b, slot, f, reg));
    }

    [Fact]
    public void BarsAreDecodedOnlyWhileTheCommandRegisterEnablesThem()
    {
        LegacyWrite32(3, 0x10, 0xC000_0000);
        LegacyWrite32(3, 0x14, 0x2000);
        LegacyWrite32(3, 0x18, 0x0000_0000);
        LegacyWrite32(3, 0x1C, 0x1);
        Span<byte> b = stackalloc byte[1];
        Assert.False(_mmio.Read(0xC000_0900, b));        // decoding still off

        LegacyWrite32(3, 4, PciConfigSpace.CommandMemorySpace);
        Assert.True(_mmio.Read(0xC000_0900, b));
        Assert.Equal(0x00, b[0]);
        Assert.True(_mmio.Write(0x1_0000_3FFF, [0x5A]));
        Assert.Equal((2, 0x3FFFUL), (_device.BarWrites[^1].Bar, _device.BarWrites[^1].Offset));
        Assert.Equal([0x5A], _device.BarWrites[^1].Data);
        Assert.False(_pio.Write(0x2000, [1]));           // I/O decoding still off

        LegacyWrite32(3, 4, PciConfigSpace.CommandIoSpace);
        Assert.False(_mmio.Read(0xC000_0900, b));
        Assert.True(_pio.Write(0x201F, [7]));
        Assert.Equal((1, 0x1FUL), (_device.BarWrites[^1].Bar, _device.BarWrites[^1].Offset));
        Assert.Equal([7], _device.BarWrites[^1].Data);

        LegacyWrite32(3, 4, 0);
        Assert.False(_pio.Write(0x2000, [1]));
    }

    [Fact]
    public void MovingAnEnabledBarMovesItsDecoder()
    {
        LegacyWrite32(3, 0x10, 0xC000_0000);
        LegacyWrite32(3, 4, PciConfigSpace.CommandMemorySpace);
        LegacyWrite32(3, 0x10, 0xC010_0000);
        Span<byte> b = stackalloc byte[1];
        Assert.False(_mmio.Read(0xC000_0410, b));
        Assert.True(_mmio.Read(0xC010_0410, b));
        Assert.Equal(0x10, b[0]);

        // Linux sizes with decoding off, then restores; a sizing pattern with decoding on lands outside
        // the windows and is simply not decoded until the base comes back.
        LegacyWrite32(3, 0x10, 0xFFFF_FFFF);
        Assert.False(_mmio.Read(0xC010_0410, b));
        LegacyWrite32(3, 0x10, 0xC010_0000);
        Assert.True(_mmio.Read(0xC010_0410, b));
    }

    [Fact]
    public void HostileBarPlacementsAreNotDecoded()
    {
        var second = new FakePciFunction();
        _bus.Attach(4, 0, second);
        _mmio.Register(0xC100_0000, 0x1000, new PlatformDeviceStandIn());

        LegacyWrite32(3, 0x10, 0x0010_0000);             // over RAM, outside every window
        LegacyWrite32(3, 4, PciConfigSpace.CommandMemorySpace);
        Span<byte> b = stackalloc byte[1];
        Assert.False(_mmio.Read(0x0010_0000, b));
        Assert.True(_bus.RejectedBarPlacements > 0);

        LegacyWrite32(3, 0x10, 0xC000_0000);
        LegacyWrite32(4, 0x10, 0xC000_0000);             // over the first device's BAR
        LegacyWrite32(4, 4, PciConfigSpace.CommandMemorySpace);
        LegacyWrite32(4, 0x10, 0xC100_0000);             // over a platform device
        Assert.True(_mmio.Read(0xC000_0410, b));
        Assert.Empty(second.BarWrites);
        _mmio.Write(0xC000_0410, [1]);
        Assert.Single(_device.BarWrites);

        // A 64-bit BAR whose end would wrap past 2^64.
        LegacyWrite32(3, 0x18, 0xFFFF_C000);
        LegacyWrite32(3, 0x1C, 0xFFFF_FFFF);
        Assert.False(_mmio.Read(0xFFFF_FFFF_FFFF_C000, b));

        // Once the first device moves away, the second one's placement can succeed.
        LegacyWrite32(3, 0x10, 0xC020_0000);
        LegacyWrite32(4, 0x10, 0xC000_0000);
        _mmio.Write(0xC000_0410, [2]);
        Assert.Single(second.BarWrites);
    }

    private sealed class PlatformDeviceStandIn : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data) => data.Fill(0);
        public void Write(ulong offset, ReadOnlySpan<byte> data) { }
    }

    [Fact]
    public void SecondFunctionMakesTheSlotMultiFunction()
    {
        Assert.Equal(0u, (LegacyRead32(3, 0xC) >> 16) & 0x80);
        _bus.Attach(3, 2, new FakePciFunction());
        Assert.Equal(0x80u, (LegacyRead32(3, 0xC) >> 16) & 0x80);
        Assert.Throws<InvalidOperationException>(() => _bus.Attach(3, 2, new FakePciFunction()));
        Assert.Throws<ArgumentOutOfRangeException>(() => _bus.Attach(32, 0, new FakePciFunction()));
    }
}
