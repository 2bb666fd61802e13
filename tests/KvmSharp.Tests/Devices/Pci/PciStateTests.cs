using System.Buffers.Binary;
using KvmSharp.Devices.Bus;
using KvmSharp.Devices.Pci;
using KvmSharp.State;
using KvmSharp.Tests.State;

namespace KvmSharp.Tests.Devices.Pci;

public class PciStateTests
{
    private const ulong Bar0 = 0xC000_0000, Bar2 = 0xC010_0000;
    private const ushort Bar1 = 0x2000;

    /// <summary>A bus like the machine's: host bridge in slot 0, the fake function in slot 3 (and another in 4 when asked).</summary>
    private sealed class Machine
    {
        public IoBus Mmio { get; } = new("mmio");
        public IoBus Pio { get; } = new("pio");
        public RecordingMsiSink Sink { get; } = new();
        public PciBus Bus { get; }
        public FakePciFunction Device { get; }
        public FakePciFunction? Second { get; }

        public Machine(bool second = false)
        {
            Bus = new PciBus(Mmio, Pio, [new(0xC000_0000, 0x2000_0000)], new(0x1000, 0xF000));
            Bus.Attach(0, 0, PciHostBridge.Generic());
            Device = new FakePciFunction(Sink);
            Bus.Attach(3, 0, Device);
            if (second)
            {
                Second = new FakePciFunction(Sink);
                Bus.Attach(4, 0, Second);
            }
        }

        public void Write32(int slot, int offset, uint value)
        {
            Span<byte> b = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
            Bus.WriteConfig(0, slot, 0, offset, b);
        }

        public uint Read32(int slot, int offset)
        {
            Span<byte> b = stackalloc byte[4];
            Bus.ReadConfig(0, slot, 0, offset, b);
            return BinaryPrimitives.ReadUInt32LittleEndian(b);
        }

        /// <summary>What a guest's PCI core and driver do: place the BARs, enable decoding, program and enable MSI-X.</summary>
        public void Program(int slot = 3, ulong bar0 = Bar0, ulong bar2 = Bar2, ushort bar1 = Bar1)
        {
            Write32(slot, 0x10, (uint)bar0);
            Write32(slot, 0x14, bar1);
            Write32(slot, 0x18, (uint)bar2);
            Write32(slot, 0x1C, (uint)(bar2 >> 32));
            Bus.WriteConfig(0, slot, 0, PciConfigSpace.InterruptLineOffset, [11]);
            Write32(slot, PciConfigSpace.CommandOffset, PciConfigSpace.CommandMemorySpace | PciConfigSpace.CommandIoSpace | PciConfigSpace.CommandBusMaster);
        }

        public int MsixCapability => Device.Msix.CapabilityOffset;

        public void EnableMsix(ushort control = 0x8000) => Bus.WriteConfig(0, 3, 0, MsixCapability + 2, [(byte)control, (byte)(control >> 8)]);

        public void ProgramVector(int vector, ulong address, uint data, bool masked)
        {
            Span<byte> entry = stackalloc byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(entry, address);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[8..], data);
            BinaryPrimitives.WriteUInt32LittleEndian(entry[12..], masked ? 1u : 0);
            Assert.True(Mmio.Write(Bar0 + (ulong)vector * 16, entry[..8]));
            Assert.True(Mmio.Write(Bar0 + (ulong)vector * 16 + 8, entry[8..]));
        }
    }

    [Fact]
    public void RestoredBusDecodesTheBarsWhereTheGuestPutThemAndReadsTheSameConfig()
    {
        var original = new Machine();
        original.Program();
        original.EnableMsix();
        var saved = StateFuzz.RoundTrip(original.Bus.SaveState());
        Assert.Equal(2, saved.Functions.Length);

        var restored = new Machine();
        restored.Bus.RestoreState(saved);
        for (int offset = 0; offset < 256; offset += 4)
            Assert.Equal(original.Read32(3, offset), restored.Read32(3, offset));
        Span<byte> b = stackalloc byte[1];
        Assert.True(restored.Mmio.Read(Bar0 + 0x900, b));           // BAR0 outside MSI-X: the fake's pattern
        Assert.Equal(0x00, b[0]);
        Assert.True(restored.Pio.Read(Bar1 + 5, b));
        Assert.Equal(0x05, b[0]);
        Assert.True(restored.Mmio.Write(Bar2 + 0x10, [0x5A]));
        Assert.Equal((2, 0x10UL), (restored.Device.BarWrites[^1].Bar, restored.Device.BarWrites[^1].Offset));
        Assert.True(restored.Device.Msix.Enabled);
        Assert.Equal(0, restored.Bus.RejectedBarPlacements);
    }

    [Fact]
    public void AMaskedPendingVectorIsDeliveredWhenTheRestoredGuestUnmasksIt()
    {
        var original = new Machine();
        original.Program();
        original.EnableMsix();
        original.ProgramVector(2, 0xFEE0_1000, 0x4041, masked: true);
        Assert.True(original.Device.Msix.Signal(2));
        Assert.Empty(original.Sink.Messages);
        var bus = StateFuzz.RoundTrip(original.Bus.SaveState());
        var msix = StateFuzz.RoundTrip(original.Device.Msix.SaveState());

        var restored = new Machine();
        restored.Bus.RestoreState(bus);
        restored.Device.Msix.RestoreState(msix);
        Assert.True(restored.Device.Msix.IsPending(2));
        Assert.Empty(restored.Sink.Messages);
        Assert.True(restored.Mmio.Write(Bar0 + 2 * 16 + 12, [0, 0, 0, 0]));
        Assert.Equal([(0xFEE0_1000UL, 0x4041u)], restored.Sink.Messages);
        Assert.False(restored.Device.Msix.IsPending(2));
    }

    [Fact]
    public void FunctionsThatSwapBarRangesAreBothDecodedAfterRestore()
    {
        var original = new Machine(second: true);
        original.Program(3, bar0: Bar0, bar2: Bar2, bar1: 0x2000);
        original.Program(4, bar0: Bar0 + 0x1000, bar2: Bar2 + 0x4000, bar1: 0x2020);
        var saved = original.Bus.SaveState();

        var restored = new Machine(second: true);
        restored.Program(3, bar0: Bar0 + 0x1000, bar2: Bar2 + 0x4000, bar1: 0x2020);
        restored.Program(4, bar0: Bar0, bar2: Bar2, bar1: 0x2000);
        restored.Bus.RestoreState(saved);
        Assert.Equal(0, restored.Bus.RejectedBarPlacements);
        Assert.True(restored.Mmio.Write(Bar0 + 0xA00, [1]));
        Assert.True(restored.Mmio.Write(Bar0 + 0x1A00, [2]));
        Assert.Equal((0, 0xA00UL), (restored.Device.BarWrites[^1].Bar, restored.Device.BarWrites[^1].Offset));
        Assert.Equal((0, 0xA00UL), (restored.Second!.BarWrites[^1].Bar, restored.Second.BarWrites[^1].Offset));
    }

    [Fact]
    public void StatesThatDoNotFitTheFunctionsAreRefusedBeforeAnythingChanges()
    {
        var original = new Machine();
        original.Program();
        var good = original.Bus.SaveState();
        PciBusState WithDeviceBytes(Action<byte[]> change)
        {
            var bytes = (byte[])good.Functions[1].Config.Bytes.Clone();
            change(bytes);
            return good with { Functions = [good.Functions[0], good.Functions[1] with { Config = new() { Bytes = bytes } }] };
        }
        var cases = new (string Field, PciBusState State)[]
        {
            ("pci.Functions[00:03.0].Config.DeviceId", WithDeviceBytes(b => b[2] ^= 1)),
            ("pci.Functions[00:03.0].Config.DeviceId", WithDeviceBytes(b => b[0] ^= 1)),
            ("pci.Functions[00:03.0].Config.Bar0", WithDeviceBytes(b => b[0x10] |= 0x08)),         // prefetchable: not this BAR
            ("pci.Functions[00:03.0].Config.Bar0", WithDeviceBytes(b => b[0x11] |= 0x08)),         // a base inside the 4 KiB size
            ("pci.Functions[00:03.0].Config.Bar4", WithDeviceBytes(b => b[0x20] = 0x01)),          // a BAR it lacks
            ("pci.Functions[00:03.0].Config.Bytes", WithDeviceBytes(b => b[0x09] ^= 1)),           // class code
            ("pci.Functions[00:03.0].Config.Bytes", WithDeviceBytes(b => b[original.MsixCapability + 2] ^= 1)),   // table size
            ("pci.Functions[00:03.0].Config.Bytes", WithDeviceBytes(_ => { }) with { Functions = [good.Functions[0], good.Functions[1] with { Config = new() { Bytes = new byte[4096] } }] }),
            ("pci.Functions[00:04.0]", good with { Functions = [good.Functions[0], good.Functions[1] with { Slot = 4 }] }),
            ("pci.Functions[00:03.0]", good with { Functions = [good.Functions[0]] }),
            ("pci.Functions[00:00.0]", good with { Functions = [good.Functions[0], good.Functions[0], good.Functions[1]] }),
            ("pci.Functions[].Slot", good with { Functions = [good.Functions[0] with { Slot = 32 }] }),
            ("pci.Functions", good with { Functions = null! }),
        };
        foreach (var (field, state) in cases)
        {
            var fresh = new Machine();
            fresh.Program(bar0: Bar0 + 0x10000);
            string before = StateFuzz.Json(fresh.Bus.SaveState());
            var e = Assert.Throws<StateException>(() => fresh.Bus.RestoreState(state));
            Assert.StartsWith(field + ":", e.Message);
            Assert.Equal(before, StateFuzz.Json(fresh.Bus.SaveState()));
        }
    }

    [Fact]
    public void StatusErrorBitsAndTheInterruptBitAreTheDevicesToRestore()
    {
        var original = new Machine();
        original.Device.Config.SetInterruptStatus(true);
        var restored = new Machine();
        restored.Bus.RestoreState(original.Bus.SaveState());
        Assert.Equal(PciConfigSpace.StatusInterrupt, restored.Device.Config.Status & PciConfigSpace.StatusInterrupt);
    }

    [Fact]
    public void MsixStatesOfAnotherSizeOrWithPhantomVectorsAreRefused()
    {
        var msix = new Machine().Device.Msix;   // 3 vectors
        var good = msix.SaveState();
        Assert.Throws<StateException>(() => msix.RestoreState(good with { Table = new byte[4 * 16] }));
        Assert.Throws<StateException>(() => msix.RestoreState(good with { PendingBits = new byte[16] }));
        var e = Assert.Throws<StateException>(() => msix.RestoreState(good with { PendingBits = [0x08, 0, 0, 0, 0, 0, 0, 0] }));
        Assert.Contains("vector 3", e.Message);
        msix.RestoreState(good with { PendingBits = [0x04, 0, 0, 0, 0, 0, 0, 0] });
        Assert.True(msix.IsPending(2));
    }

    [Fact]
    public void ConfigAddressSurvivesAndReservedBitsAreRefused()
    {
        var machine = new Machine();
        var access = new PciLegacyConfigAccess(machine.Bus);
        access.AddressPort.Write(0, [0x00, 0x18, 0x00, 0x80]);   // slot 3, register 0
        var restored = new PciLegacyConfigAccess(new Machine().Bus);
        restored.RestoreState(StateFuzz.RoundTrip(access.SaveState()));
        Span<byte> id = stackalloc byte[4];
        restored.DataPort.Read(0, id);
        Assert.Equal(((uint)FakePciFunction.Device << 16) | FakePciFunction.Vendor, BinaryPrimitives.ReadUInt32LittleEndian(id));
        Assert.Throws<StateException>(() => restored.RestoreState(new PciConfigAddressState { Address = 0x8000_0001 }));
    }

    [Fact]
    public void RandomMutationsOfABusStateOnlyEverThrowStateException()
    {
        var original = new Machine();
        original.Program();
        original.EnableMsix();
        Assert.True(StateFuzz.Run(() => new Machine().Bus, original.Bus.SaveState(), seed: 0x1AF4) > 0);
    }

    [Fact]
    public void RandomMutationsOfAnMsixStateOnlyEverThrowStateException()
    {
        var original = new Machine();
        original.EnableMsix();
        original.Device.Msix.Signal(1);
        Assert.True(StateFuzz.Run(() => new Machine().Device.Msix, original.Device.Msix.SaveState(), seed: 0x11) > 0);
    }
}
