using KvmSharp.Memory;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// Builds the machine's ACPI tables into guest memory at <see cref="MemoryMap.AcpiTables"/>: RSDP (first,
/// 16-byte aligned, so a BIOS-style scan of 0xE0000-0xFFFFF finds it, ACPI 6.5 §5.2.5.1), FACS, DSDT,
/// FADT, MADT, then XSDT and RSDT listing FADT, MADT and any additional tables.
/// </summary>
public static class AcpiTables
{
    /// <summary>Writes the tables and returns the RSDP's address (for boot_params.acpi_rsdp_addr and the like).</summary>
    public static GuestAddress Build(GuestMemory memory, AcpiPlatform platform, IReadOnlyList<IAcpiDevice> devices) =>
        Build(memory, platform, devices, []);

    /// <summary>
    /// As <see cref="Build(GuestMemory, AcpiPlatform, IReadOnlyList{IAcpiDevice})"/>, with
    /// <paramref name="additionalTables"/> (complete, checksummed tables such as an MCFG or SSDT, see
    /// <see cref="AcpiTableHeader"/> and <see cref="Dsdt.Wrap"/>) placed after the MADT and listed in the XSDT.
    /// </summary>
    public static GuestAddress Build(GuestMemory memory, AcpiPlatform platform, IReadOnlyList<IAcpiDevice> devices,
        IReadOnlyList<byte[]> additionalTables)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentNullException.ThrowIfNull(platform);
        ArgumentNullException.ThrowIfNull(devices);
        ArgumentNullException.ThrowIfNull(additionalTables);
        platform.Validate();

        var start = new GuestAddress(MemoryMap.AcpiTables);
        // A rebuild (after a reset) must not leave pieces of older tables for a scan to find.
        memory.Clear(start, checked((int)(MemoryMap.AcpiTablesEnd - MemoryMap.AcpiTables)));
        var writer = new AcpiTableWriter(memory, start, new GuestAddress(MemoryMap.AcpiTablesEnd));

        var rsdp = writer.Reserve(RootTables.RsdpLength, 16);
        var facs = writer.Append(Facs.Build(), Facs.Alignment);
        var dsdt = writer.Append(Dsdt.Build(platform, devices));
        var fadt = writer.Append(Fadt.Build(platform, facs, dsdt));
        var madt = writer.Append(Madt.Build(platform));
        var listed = new List<GuestAddress> { fadt, madt };
        foreach (var table in additionalTables)
            listed.Add(writer.Append(table));

        var xsdt = writer.Append(RootTables.Xsdt(listed));
        var rsdt = writer.Append(RootTables.Rsdt(listed));
        memory.Write(rsdp, RootTables.Rsdp(rsdt, xsdt));
        return rsdp;
    }
}
