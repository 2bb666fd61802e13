using System.Buffers.Binary;
using KvmSharp.Memory;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// Fixed ACPI Description Table, revision 6.5 (ACPI 6.5 §5.2.9, Table 5.9): a full (not hardware-reduced)
/// FADT whose fixed hardware is the PM block at <see cref="AcpiPlatform.PmPortBase"/>. SMI_CMD is 0, so
/// the machine is always in ACPI mode (§4.8.2.1) and the PM device reads SCI_EN as 1. Every register is
/// given both as a legacy port and as an X_ Generic Address.
/// </summary>
public static class Fadt
{
    public const byte Revision = 6;
    public const byte MinorVersion = 5;
    public const int Length = 276;

    /// <summary>Field offsets, from Table 5.9.</summary>
    public static class Offsets
    {
        public const int FirmwareCtrl = 36;
        public const int Dsdt = 40;
        public const int PreferredPmProfile = 45;
        public const int SciInt = 46;
        public const int SmiCmd = 48;
        public const int Pm1aEvtBlk = 56;
        public const int Pm1aCntBlk = 64;
        public const int PmTmrBlk = 76;
        public const int Pm1EvtLen = 88;
        public const int Pm1CntLen = 89;
        public const int PmTmrLen = 91;
        public const int PLvl2Lat = 96;
        public const int PLvl3Lat = 98;
        public const int IapcBootArch = 109;
        public const int Flags = 112;
        public const int ResetReg = 116;
        public const int ResetValue = 128;
        public const int FadtMinorVersion = 131;
        public const int XFirmwareCtrl = 132;
        public const int XDsdt = 140;
        public const int XPm1aEvtBlk = 148;
        public const int XPm1aCntBlk = 172;
        public const int XPmTmrBlk = 208;
    }

    // Fixed Feature Flags (Table 5.10).
    public const uint FlagWbinvd = 1 << 0;
    public const uint FlagProcC1 = 1 << 2;
    /// <summary>Set: no fixed-feature sleep button. (PWR_BUTTON, bit 4, stays clear: the PM device has one.)</summary>
    public const uint FlagSlpButton = 1 << 5;
    public const uint FlagResetRegSup = 1 << 10;

    // IA-PC Boot Architecture Flags (Table 5.11).
    public const ushort BootArchLegacyDevices = 1 << 0;
    public const ushort BootArch8042 = 1 << 1;
    public const ushort BootArchVgaNotPresent = 1 << 2;

    /// <summary>Writing this to the reset register (0xCF9) resets the machine: SYS_RST | RST_CPU.</summary>
    public const byte ResetValue = 0x06;

    public static byte[] Build(AcpiPlatform platform, GuestAddress facs, GuestAddress dsdt)
    {
        var table = AcpiTableHeader.Create("FACP", Revision, Length);
        var span = table.AsSpan();
        ushort evt = (ushort)(platform.PmPortBase + AcpiPmLayout.Pm1EventOffset);
        ushort cnt = (ushort)(platform.PmPortBase + AcpiPmLayout.Pm1ControlOffset);
        ushort tmr = (ushort)(platform.PmPortBase + AcpiPmLayout.TimerOffset);

        BinaryPrimitives.WriteUInt32LittleEndian(span[Offsets.FirmwareCtrl..], checked((uint)facs.Value));
        BinaryPrimitives.WriteUInt32LittleEndian(span[Offsets.Dsdt..], checked((uint)dsdt.Value));
        span[Offsets.PreferredPmProfile] = 0; // unspecified
        BinaryPrimitives.WriteUInt16LittleEndian(span[Offsets.SciInt..], platform.SciIrq);
        BinaryPrimitives.WriteUInt32LittleEndian(span[Offsets.SmiCmd..], 0); // ACPI mode is always on
        BinaryPrimitives.WriteUInt32LittleEndian(span[Offsets.Pm1aEvtBlk..], evt);
        BinaryPrimitives.WriteUInt32LittleEndian(span[Offsets.Pm1aCntBlk..], cnt);
        BinaryPrimitives.WriteUInt32LittleEndian(span[Offsets.PmTmrBlk..], tmr);
        span[Offsets.Pm1EvtLen] = AcpiPmLayout.Pm1EventLength;
        span[Offsets.Pm1CntLen] = AcpiPmLayout.Pm1ControlLength;
        span[Offsets.PmTmrLen] = AcpiPmLayout.TimerLength;
        // GPE0/GPE1 blocks: none (address and length 0).
        // Latencies above 100 / 1000 µs say C2 / C3 are not supported (§5.2.9 P_LVL2_LAT, P_LVL3_LAT).
        BinaryPrimitives.WriteUInt16LittleEndian(span[Offsets.PLvl2Lat..], 101);
        BinaryPrimitives.WriteUInt16LittleEndian(span[Offsets.PLvl3Lat..], 1001);
        BinaryPrimitives.WriteUInt16LittleEndian(span[Offsets.IapcBootArch..],
            BootArchLegacyDevices | BootArch8042 | BootArchVgaNotPresent);
        // The PM timer is 24 bits: TMR_VAL_EXT (bit 8) stays clear.
        BinaryPrimitives.WriteUInt32LittleEndian(span[Offsets.Flags..], FlagWbinvd | FlagProcC1 | FlagSlpButton | FlagResetRegSup);
        GenericAddress.Io(MemoryMap.ResetControlPort, 1, AccessSize.Byte).WriteTo(span[Offsets.ResetReg..]);
        span[Offsets.ResetValue] = ResetValue;
        span[Offsets.FadtMinorVersion] = MinorVersion;
        BinaryPrimitives.WriteUInt64LittleEndian(span[Offsets.XFirmwareCtrl..], facs.Value);
        BinaryPrimitives.WriteUInt64LittleEndian(span[Offsets.XDsdt..], dsdt.Value);
        // PM1_STS and PM1_EN, and PM1_CNT, are 16-bit registers; the timer is read as a dword.
        GenericAddress.Io(evt, AcpiPmLayout.Pm1EventLength, AccessSize.Word).WriteTo(span[Offsets.XPm1aEvtBlk..]);
        GenericAddress.Io(cnt, AcpiPmLayout.Pm1ControlLength, AccessSize.Word).WriteTo(span[Offsets.XPm1aCntBlk..]);
        GenericAddress.Io(tmr, AcpiPmLayout.TimerLength, AccessSize.DWord).WriteTo(span[Offsets.XPmTmrBlk..]);
        // Sleep control/status registers are for hardware-reduced platforms; hypervisor vendor ID unset.

        AcpiTableHeader.Seal(table);
        return table;
    }
}
