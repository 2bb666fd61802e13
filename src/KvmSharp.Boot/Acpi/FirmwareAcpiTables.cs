using KvmSharp.Memory;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// The machine's ACPI tables for firmware to install, as QEMU hands them over fw_cfg: "etc/acpi/tables" (FACS, DSDT,
/// FADT, MADT, the additional tables, XSDT, RSDT, laid out from offset 0), "etc/acpi/rsdp" (in the F segment, where
/// an OS scanning for it looks) and "etc/table-loader", which tells the firmware to place both and patch every
/// pointer between tables (each holds an offset into the tables file until then) and every checksum.
/// </summary>
public sealed record FirmwareAcpiTables(byte[] Tables, byte[] Rsdp, byte[] Loader)
{
    public const string TablesFile = "etc/acpi/tables";
    public const string RsdpFile = "etc/acpi/rsdp";
    public const string LoaderFile = "etc/table-loader";

    public static FirmwareAcpiTables Build(AcpiPlatform platform, IReadOnlyList<IAcpiDevice> devices, IReadOnlyList<byte[]> additionalTables)
    {
        ArgumentNullException.ThrowIfNull(platform);
        platform.Validate();
        var blob = new List<byte>();
        var tables = new List<(uint Offset, int Length)>();
        uint Append(byte[] table, int alignment = 16)
        {
            while (blob.Count % alignment != 0) blob.Add(0);
            uint at = (uint)blob.Count;
            blob.AddRange(table);
            tables.Add((at, table.Length));
            return at;
        }

        uint facs = Append(Facs.Build(), Facs.Alignment);
        tables.RemoveAt(tables.Count - 1);   // the FACS has no checksum (ACPI 6.5 §5.2.10)
        uint dsdt = Append(Dsdt.Build(platform, devices));
        uint fadt = Append(Fadt.Build(platform, new GuestAddress(facs), new GuestAddress(dsdt)));
        var listed = new List<uint> { fadt, Append(Madt.Build(platform)) };
        foreach (var table in additionalTables) listed.Add(Append(table));
        uint xsdt = Append(RootTables.Xsdt([.. listed.Select(o => new GuestAddress(o))]));
        uint rsdt = Append(RootTables.Rsdt([.. listed.Select(o => new GuestAddress(o))]));
        byte[] rsdp = RootTables.Rsdp(new GuestAddress(rsdt), new GuestAddress(xsdt));

        var script = new TableLoaderScript();
        script.AllocateFile(RsdpFile, 16, TableLoaderScript.Zone.FSegment);
        script.AllocateFile(TablesFile, (uint)Facs.Alignment, TableLoaderScript.Zone.High);
        script.AddPointerTo(TablesFile, TablesFile, fadt + Fadt.Offsets.FirmwareCtrl, 4);
        script.AddPointerTo(TablesFile, TablesFile, fadt + Fadt.Offsets.Dsdt, 4);
        script.AddPointerTo(TablesFile, TablesFile, fadt + Fadt.Offsets.XFirmwareCtrl, 8);
        script.AddPointerTo(TablesFile, TablesFile, fadt + Fadt.Offsets.XDsdt, 8);
        for (int i = 0; i < listed.Count; i++)
        {
            script.AddPointerTo(TablesFile, TablesFile, xsdt + (uint)(AcpiTableHeader.Length + 8 * i), 8);
            script.AddPointerTo(TablesFile, TablesFile, rsdt + (uint)(AcpiTableHeader.Length + 4 * i), 4);
        }
        // The firmware computes each checksum over the range with the checksum byte in it, and OVMF stores the result
        // rather than adding it (OvmfPkg QemuFwCfgAcpi.c, ProcessCmdAddChecksum): the byte must be zero until then, as
        // QEMU leaves it, or every table OVMF checks fails its checksum and none is installed.
        foreach (var (offset, length) in tables)
        {
            blob[(int)offset + AcpiTableHeader.ChecksumOffset] = 0;
            script.AddChecksumOf(TablesFile, offset + AcpiTableHeader.ChecksumOffset, offset, (uint)length);
        }
        script.AddPointerTo(RsdpFile, TablesFile, RsdtAddressOffset, 4);
        script.AddPointerTo(RsdpFile, TablesFile, XsdtAddressOffset, 8);
        rsdp[8] = rsdp[32] = 0;
        script.AddChecksumOf(RsdpFile, 8, 0, 20);
        script.AddChecksumOf(RsdpFile, 32, 0, RootTables.RsdpLength);
        return new FirmwareAcpiTables([.. blob], rsdp, script.ToArray());
    }

    // RSDP fields (ACPI 6.5 Table 5.3).
    private const uint RsdtAddressOffset = 16, XsdtAddressOffset = 24;
}
