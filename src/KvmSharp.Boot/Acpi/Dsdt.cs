namespace KvmSharp.Boot.Acpi;

/// <summary>
/// Differentiated System Description Table (ACPI 6.5 §5.2.11.1): the header and a TermList of AML.
/// Revision 2, so AML integers are 64-bit (§5.2.11.1, §19.6.84 "Integer").
/// </summary>
public static class Dsdt
{
    public const byte Revision = 2;

    /// <summary>
    /// <c>\_S5_</c> (§7.4.2) with the SLP_TYP the PM device powers off on, a processor device per vCPU
    /// (§8.4: ACPI0007, _UID = the MADT processor UID) and every <paramref name="devices"/>' AML, all in
    /// <c>Scope(\_SB)</c>.
    /// </summary>
    public static byte[] Build(AcpiPlatform platform, IReadOnlyList<IAcpiDevice> devices)
    {
        var aml = new AmlBuilder();
        // Package {SLP_TYPa, SLP_TYPb, reserved, reserved}; we have no PM1b block, the value is ignored.
        aml.NamePackage("\\_S5_", AcpiPmLayout.S5SleepType, AcpiPmLayout.S5SleepType, 0, 0);
        aml.Scope("\\_SB_", sb =>
        {
            for (int cpu = 0; cpu < platform.VcpuCount; cpu++)
            {
                int uid = cpu;
                sb.Device($"C{uid:X3}", d =>
                {
                    d.NameString("_HID", "ACPI0007");
                    d.Name("_UID", (ulong)uid);
                });
            }
            foreach (var device in devices)
                device.WriteAml(sb);
        });
        return Wrap("DSDT", Revision, aml.ToArray());
    }

    /// <summary>A definition block (DSDT or SSDT) of <paramref name="aml"/>, checksummed.</summary>
    public static byte[] Wrap(string signature, byte revision, ReadOnlySpan<byte> aml)
    {
        var table = AcpiTableHeader.Create(signature, revision, AcpiTableHeader.Length + aml.Length);
        aml.CopyTo(table.AsSpan(AcpiTableHeader.Length));
        AcpiTableHeader.Seal(table);
        return table;
    }
}
