using System.Buffers.Binary;
using KvmSharp.Devices.Bus;
using KvmSharp.Devices.Pci;

namespace KvmSharp.Tests.Devices.Pci;

/// <summary>MSI-X as a guest driver programs it: through config space and the table in BAR0, over the buses.</summary>
public class MsixCapabilityTests
{
    private const ulong Bar0 = 0xC000_0000;
    private const ushort EnableBit = 0x8000, FunctionMaskBit = 0x4000;

    private readonly IoBus _mmio = new("mmio");
    private readonly PciBus _bus;
    private readonly RecordingMsiSink _sink = new();
    private readonly FakePciFunction _device;
    private readonly int _cap;

    public MsixCapabilityTests()
    {
        _device = new FakePciFunction(_sink, vectors: 70);  // more than 64: the PBA spans two qwords
        _bus = new PciBus(_mmio, new IoBus("pio"), [new(0xC000_0000, 0x1000_0000)], new(0x1000, 0xF000));
        _bus.Attach(1, 0, _device);
        ConfigWrite32(0x10, (uint)Bar0);
        ConfigWrite16(PciConfigSpace.CommandOffset, PciConfigSpace.CommandMemorySpace | PciConfigSpace.CommandBusMaster);
        _cap = _device.Msix.CapabilityOffset;
    }

    private void ConfigWrite32(int reg, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        _bus.WriteConfig(0, 1, 0, reg, b);
    }

    private void ConfigWrite16(int reg, ushort v)
    {
        Span<byte> b = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(b, v);
        _bus.WriteConfig(0, 1, 0, reg, b);
    }

    private ushort Control
    {
        get
        {
            Span<byte> b = stackalloc byte[2];
            _bus.ReadConfig(0, 1, 0, _cap + 2, b);
            return BinaryPrimitives.ReadUInt16LittleEndian(b);
        }
        set => ConfigWrite16(_cap + 2, value);
    }

    private void Mmio32(ulong address, uint v)
    {
        Span<byte> b = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(b, v);
        Assert.True(_mmio.Write(address, b));
    }

    private ulong MmioRead64(ulong address)
    {
        Span<byte> b = stackalloc byte[8];
        Assert.True(_mmio.Read(address, b));
        return BinaryPrimitives.ReadUInt64LittleEndian(b);
    }

    /// <summary>What Linux's msix_write_msg does: address low, high, data, then vector control.</summary>
    private void Program(int vector, ulong address, uint data, bool masked)
    {
        ulong e = Bar0 + (ulong)vector * 16;
        Mmio32(e, (uint)address);
        Mmio32(e + 4, (uint)(address >> 32));
        Mmio32(e + 8, data);
        Mmio32(e + 12, masked ? 1u : 0u);
    }

    [Fact]
    public void CapabilityDescribesTableAndPba()
    {
        Assert.Contains((_cap, MsixCapability.CapabilityId), _device.Config.WalkCapabilities());
        Assert.Equal(69, Control & 0x7FF);                            // table size is N-1
        Assert.Equal(0u, _device.Config.ReadUInt32(_cap + 4));         // table: BAR0, offset 0
        Assert.Equal(0x800u, _device.Config.ReadUInt32(_cap + 8));     // PBA: BAR0, offset 0x800
        Control = 0xFFFF;
        Assert.Equal(0xC000 | 69, Control);                            // only enable and function mask move
        ConfigWrite32(_cap + 4, 0xFFFF_FFFF);
        Assert.Equal(0u, _device.Config.ReadUInt32(_cap + 4));
    }

    [Fact]
    public void VectorsStartMaskedAndSignalWaitsForEnable()
    {
        Assert.Equal(1UL, (MmioRead64(Bar0 + 8) >> 32) & 1);          // vector control: mask bit set at reset
        Assert.False(_device.Msix.Signal(0));                          // MSI-X disabled: the device uses INTx
        Control = EnableBit;
        Assert.True(_device.Msix.Signal(0));                           // masked: pending, not sent
        Assert.Empty(_sink.Messages);
        Assert.True(_device.Msix.IsPending(0));
        Assert.Equal(1UL, MmioRead64(Bar0 + 0x800));
    }

    [Fact]
    public void UnmaskingAVectorDeliversItsPendingMessage()
    {
        Control = EnableBit;
        Program(65, 0xFEE0_1000, 0x4031, masked: true);
        _device.Msix.Signal(65);
        Assert.Equal(0UL, MmioRead64(Bar0 + 0x800));
        Assert.Equal(2UL, MmioRead64(Bar0 + 0x808));                   // vector 65 = bit 1 of the second qword
        Mmio32(Bar0 + 65 * 16 + 12, 0);
        Assert.Equal([(0xFEE0_1000UL, 0x4031u)], _sink.Messages);
        Assert.False(_device.Msix.IsPending(65));
        _device.Msix.Signal(65);
        Assert.Equal(2, _sink.Messages.Count);                          // unmasked: straight through
    }

    [Fact]
    public void FunctionMaskHoldsEveryVector()
    {
        Control = EnableBit | FunctionMaskBit;
        Program(0, 0xFEE0_0000, 0x21, masked: false);
        Program(3, 0xFEE0_2000, 0x22, masked: false);
        _device.Msix.Signal(3);
        _device.Msix.Signal(0);
        Assert.Empty(_sink.Messages);
        Control = EnableBit;
        Assert.Equal([(0xFEE0_0000UL, 0x21u), (0xFEE0_2000UL, 0x22u)], _sink.Messages);
        Assert.False(_device.Msix.IsPending(0));
        Assert.False(_device.Msix.IsPending(3));
    }

    [Fact]
    public void PendingSurvivesDisableAndIsSentAfterReenable()
    {
        Control = EnableBit;
        Program(2, 0xFEE0_0000, 0x30, masked: true);
        _device.Msix.Signal(2);
        Control = 0;
        Mmio32(Bar0 + 2 * 16 + 12, 0);                                 // unmasked while disabled: still pending
        Assert.Empty(_sink.Messages);
        Control = EnableBit;
        Assert.Equal([(0xFEE0_0000UL, 0x30u)], _sink.Messages);
    }

    [Fact]
    public void HostileAccessesAreHarmless()
    {
        Control = EnableBit;
        Program(1, 0xFEE0_0000, 0x40, masked: true);
        _device.Msix.Signal(1);
        Mmio32(Bar0 + 0x800, 0);                                       // the PBA is read-only
        Assert.True(_device.Msix.IsPending(1));
        Assert.False(_device.Msix.Signal(70));
        Assert.False(_device.Msix.Signal(-1));
        Assert.False(_device.Msix.IsPending(int.MaxValue));
        // A qword straddling the table's end and a write past the PBA go to the device's other registers.
        Span<byte> q = stackalloc byte[8];
        Assert.False(_device.Msix.TryRead(0, 70 * 16 - 4, q));
        Assert.False(_device.Msix.TryWrite(0, 0x800 + 16, q));
        Assert.False(_device.Msix.TryRead(1, 0, q));                   // other BARs are not MSI-X's
        // A qword write across two entries (vector 1's control, vector 2's address) unmasks vector 1.
        Assert.True(_device.Msix.TryWrite(0, 1 * 16 + 12, [0, 0, 0, 0, 0, 0, 0xE0, 0xFE]));
        Assert.Equal([(0xFEE0_0000UL, 0x40u)], _sink.Messages);
    }

    [Fact]
    public void StructuresMustFitInMemoryBars()
    {
        var c = new PciConfigSpace(1, 2, 0);
        c.DefineBar(0, PciBarKind.Memory32, 0x100);
        c.DefineBar(1, PciBarKind.Io, 0x20);
        Assert.Throws<ArgumentException>(() => new MsixCapability(c, _sink, 17, 0, 0, 0, 0xF8));
        Assert.Throws<ArgumentException>(() => new MsixCapability(c, _sink, 1, 1, 0, 0, 0x80));
        Assert.Throws<ArgumentException>(() => new MsixCapability(c, _sink, 1, 0, 4, 0, 0x80));
    }
}
