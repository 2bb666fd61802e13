using KvmSharp.Accelerators.Emulate.Platform;

namespace KvmSharp.Tests.Emulate.Platform;

/// <summary>The 82093AA register model and delivery rules (82093AA datasheet §3), driven as Linux's io_apic.c drives them.</summary>
public class IoApicTests
{
    private const ulong Select = 0x00, Window = 0x10;

    private readonly RecordingApicBus _bus = new();
    private readonly IoApic _ioApic;

    public IoApicTests() => _ioApic = new IoApic(_bus);

    private uint Read(byte register)
    {
        _ioApic.WriteMmio(Select, 4, register);
        return (uint)_ioApic.ReadMmio(Window, 4);
    }

    private void Write(byte register, uint value)
    {
        _ioApic.WriteMmio(Select, 4, register);
        _ioApic.WriteMmio(Window, 4, value);
    }

    /// <summary>Linux's ioapic_write_entry: high half (destination) first, then the low half.</summary>
    private void Program(int pin, uint low, byte destination = 0)
    {
        Write((byte)(0x10 + 2 * pin + 1), (uint)destination << 24);
        Write((byte)(0x10 + 2 * pin), low);
    }

    private const uint Level = 1 << 15, Masked = 1 << 16, RemoteIrr = 1 << 14, Logical = 1 << 11;

    [Fact]
    public void IdVersionAndArbitrationRegistersReadAsKvmReportsThem()
    {
        Assert.Equal(0x0017_0011u, Read(0x01));   // 24 entries (max index 23), version 0x11
        Assert.Equal(0u, Read(0x00));
        Write(0x00, 0x0F00_0000 | 0xFF);          // only bits 27:24 exist
        Assert.Equal(0x0F00_0000u, Read(0x00));
        Assert.Equal(0x0F00_0000u, Read(0x02));
        Write(0x01, 0);                           // read-only
        Assert.Equal(0x0017_0011u, Read(0x01));
        Assert.Equal(0x01ul, _ioApic.ReadMmio(Select, 4));   // IOREGSEL reads back
    }

    [Fact]
    public void EntriesStartMaskedAndKeepWhatIsWritten()
    {
        for (int pin = 0; pin < IoApic.PinCount; pin++)
        {
            Assert.Equal(Masked, Read((byte)(0x10 + 2 * pin)));
            Assert.Equal(0u, Read((byte)(0x11 + 2 * pin)));
        }
        Program(5, 0x0000_0935 | Logical, destination: 0x03);
        Assert.Equal(0x0935u | Logical, Read(0x10 + 10));
        Assert.Equal(0x0300_0000u, Read(0x10 + 11));
        Assert.Equal(0x0300_0000_0000_0935UL | Logical, _ioApic.Entry(5));
    }

    [Fact]
    public void EdgeEntryDeliversOnTheRisingEdgeOnly()
    {
        Program(4, 0x34, destination: 1);   // fixed, physical, edge, active high, unmasked
        _ioApic.SetPin(4, true);
        _ioApic.SetPin(4, true);              // still high: no new edge
        Assert.Equal([new InterruptMessage(0x34, ApicDeliveryMode.Fixed, 1, false, false)], _bus.Messages);
        _ioApic.SetPin(4, false);
        _ioApic.SetPin(4, true);
        Assert.Equal(2, _bus.Messages.Count);
    }

    [Fact]
    public void MaskedEdgeIsLostNotHeld()
    {
        Program(3, 0x33 | Masked);
        _ioApic.SetPin(3, true);
        Program(3, 0x33);                     // unmask while the line is still high
        Assert.Empty(_bus.Messages);
        _ioApic.SetPin(3, false);
        _ioApic.SetPin(3, true);
        Assert.Single(_bus.Messages);
    }

    [Fact]
    public void LevelEntrySetsRemoteIrrAndFiresAgainAfterEoiWhileAsserted()
    {
        Program(9, 0x41 | Level, destination: 0);
        _ioApic.SetPin(9, true);
        Assert.Equal([new InterruptMessage(0x41, ApicDeliveryMode.Fixed, 0, false, true)], _bus.Messages);
        Assert.Equal(RemoteIrr, Read(0x10 + 18) & RemoteIrr);

        _ioApic.SetPin(9, true);              // held by Remote IRR
        _ioApic.EndOfInterrupt(0x42);         // another vector
        Assert.Single(_bus.Messages);

        _ioApic.EndOfInterrupt(0x41);         // line still high: delivered again
        Assert.Equal(2, _bus.Messages.Count);
        Assert.Equal(RemoteIrr, Read(0x10 + 18) & RemoteIrr);

        _ioApic.SetPin(9, false);
        _ioApic.EndOfInterrupt(0x41);         // line low: Remote IRR clears, nothing more
        Assert.Equal(2, _bus.Messages.Count);
        Assert.Equal(0u, Read(0x10 + 18) & RemoteIrr);
    }

    [Fact]
    public void UnmaskingAnAssertedLevelLineDeliversIt()
    {
        Program(10, 0x50 | Level | Masked);
        _ioApic.SetPin(10, true);
        Assert.Empty(_bus.Messages);
        Program(10, 0x50 | Level);
        Assert.Single(_bus.Messages);
    }

    [Fact]
    public void SwitchingToEdgeClearsRemoteIrrAsLinuxExpectsOfVersion0x11()
    {
        // io_apic.c's __eoi_ioapic_pin for IOAPICs without an EOI register: mask, set edge, restore level.
        Program(11, 0x60 | Level);
        _ioApic.SetPin(11, false);
        _ioApic.SetPin(11, true);
        Assert.Equal(RemoteIrr, Read(0x10 + 22) & RemoteIrr);
        Write(0x10 + 22, 0x60 | Masked);
        Write(0x10 + 22, 0x60 | Level);       // unmasked level, line high, Remote IRR now clear: fires
        Assert.Equal(2, _bus.Messages.Count);
    }

    [Fact]
    public void ReadOnlyAndReservedBitsIgnoreWrites()
    {
        Write(0x10, 0xFFFF_FFFF);
        // 16:0 exist; delivery status (12) and Remote IRR (14) are read-only.
        Assert.Equal(0x0001_AFFFu, Read(0x10));
        Write(0x11, 0xFFFF_FFFF);
        Assert.Equal(0xFF00_0000u, Read(0x11));
    }

    [Fact]
    public void DeliveryAndDestinationModesPassThroughAndReservedModesSendNothing()
    {
        Program(1, 0x0400 | Logical | 0x21, destination: 0x0F);   // NMI, logical
        Program(2, 0x0700, destination: 0);                       // ExtINT
        Program(3, 0x0300 | 0x23);                                // reserved delivery mode 011
        _ioApic.SetPin(1, true);
        _ioApic.SetPin(2, true);
        _ioApic.SetPin(3, true);
        Assert.Equal(
        [
            new InterruptMessage(0x21, ApicDeliveryMode.Nmi, 0x0F, true, false),
            new InterruptMessage(0x00, ApicDeliveryMode.ExtInt, 0, false, false),
        ], _bus.Messages);
    }

    [Fact]
    public void HostileRegisterIndexesAndAccessSizesAreHarmless()
    {
        Assert.Equal(0xFFFF_FFFFu, Read(0x03));   // unimplemented registers, as KVM reads them
        Assert.Equal(0xFFFF_FFFFu, Read(0x40));   // past the 24th entry
        Assert.Equal(0xFFFF_FFFFu, Read(0xFF));
        Write(0xFF, 0);
        Write(0x40, 0);

        // Narrow writes are dropped; narrow reads see the low part of the register.
        _ioApic.WriteMmio(Select, 1, 0x01);
        Assert.Equal(0x40ul, _ioApic.ReadMmio(Select, 1));     // still the last dword write's
        _ioApic.WriteMmio(Select, 8, 0xFFFF_FFFF_0000_0001);      // a 64-bit write carries the low half
        Assert.Equal(0x11ul, _ioApic.ReadMmio(Window, 1));
        Assert.Equal(0x0011ul, _ioApic.ReadMmio(Window, 2));
        Assert.Equal(ulong.MaxValue, _ioApic.ReadMmio(Window, 3));

        // Offsets other than IOREGSEL and IOWIN decode to nothing.
        Assert.Equal(0ul, _ioApic.ReadMmio(0x04, 4));
        Assert.Equal(0ul, _ioApic.ReadMmio(0x40, 4));
        _ioApic.WriteMmio(0x40, 4, 0x30);                           // no EOI register in version 0x11

        _ioApic.SetPin(-1, true);
        _ioApic.SetPin(IoApic.PinCount, true);
        Assert.Empty(_bus.Messages);
    }
}
