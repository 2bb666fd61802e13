using System.Buffers.Binary;
using System.Text;
using KvmSharp.Boot.Acpi;
using KvmSharp.Memory;
using static KvmSharp.Tests.Acpi.AcpiTableReader;

namespace KvmSharp.Tests.Acpi;

public class AcpiTablesTests
{
    private static readonly IAcpiDevice[] SampleDevices =
        [new SampleSerialDevice("COM1", 0x3F8, 4), new SampleSerialDevice("COM2", 0x2F8, 3)];

    private static (GuestMemory Memory, GuestAddress Rsdp) Build(int vcpus)
    {
        var memory = GuestMemory.Create(4 << 20);
        var rsdp = AcpiTables.Build(memory, AcpiPlatform.Default(vcpus), SampleDevices);
        return (memory, rsdp);
    }

    [Fact]
    public void RsdpIsAlignedInTheScannedAreaWithBothChecksums()
    {
        var (memory, rsdp) = Build(1);
        using var _ = memory;
        Assert.Equal(MemoryMap.AcpiTables, rsdp.Value);
        byte[] bytes = ReadRsdp(memory, rsdp);
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(bytes, 0, 8));
        Assert.Equal(2, bytes[15]);
        Assert.Equal("KVMSHP", Encoding.ASCII.GetString(bytes, 9, 6));
        Assert.Equal(36u, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(20)));
        Assert.Equal(0, Sum(bytes.AsSpan(0, 20)));
        Assert.Equal(0, Sum(bytes));
    }

    [Fact]
    public void EveryTableSumsToZeroAndLivesInTheAcpiArea()
    {
        var (memory, rsdp) = Build(2);
        using var _ = memory;
        var tables = ReadAll(memory, rsdp);
        Assert.Equal(["APIC", "DSDT", "FACP", "FACS", "RSDT", "XSDT"], tables.Keys.Order());
        foreach (var (signature, table) in tables)
        {
            if (signature != "FACS") // the FACS has no checksum (ACPI 6.5 §5.2.10)
                Assert.True(Sum(table) == 0, $"{signature} does not sum to zero");
            if (signature != "FACS")
                Assert.Equal("KVMSHP", Encoding.ASCII.GetString(table, 10, 6));
        }
        byte[] rsdt = tables["RSDT"], xsdt = tables["XSDT"];
        Assert.Equal((rsdt.Length - 36) / 4, (xsdt.Length - 36) / 8);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void MadtHasOneEnabledLocalApicPerVcpu(int vcpus)
    {
        var (memory, rsdp) = Build(vcpus);
        using var _ = memory;
        byte[] madt = ReadAll(memory, rsdp)["APIC"];
        Assert.Equal((uint)MemoryMap.LapicStart, BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(36)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(madt.AsSpan(40)) & 1); // PCAT_COMPAT
        var entries = new List<(byte Type, byte[] Bytes)>();
        for (int at = 44; at < madt.Length; at += madt[at + 1])
            entries.Add((madt[at], madt[at..(at + madt[at + 1])]));

        var lapics = entries.Where(e => e.Type == 0).ToList();
        Assert.Equal(vcpus, lapics.Count);
        for (int i = 0; i < vcpus; i++)
        {
            Assert.Equal(i, lapics[i].Bytes[2]); // ACPI processor UID
            Assert.Equal(i, lapics[i].Bytes[3]); // APIC ID
            Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(lapics[i].Bytes.AsSpan(4)) & 1);
        }
        var ioapic = Assert.Single(entries, e => e.Type == 1).Bytes;
        Assert.Equal((uint)MemoryMap.IoApicStart, BinaryPrimitives.ReadUInt32LittleEndian(ioapic.AsSpan(4)));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(ioapic.AsSpan(8)));

        var overrides = entries.Where(e => e.Type == 2).Select(e => e.Bytes).ToList();
        Assert.Equal(2, overrides.Count);
        Assert.Equal((byte)0, overrides[0][3]);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(overrides[0].AsSpan(4)));
        Assert.Equal((ushort)0x0004, BinaryPrimitives.ReadUInt16LittleEndian(overrides[0].AsSpan(8))); // edge, conforming polarity
        Assert.Equal((byte)9, overrides[1][3]);
        Assert.Equal(9u, BinaryPrimitives.ReadUInt32LittleEndian(overrides[1].AsSpan(4)));
        Assert.Equal((ushort)0x000D, BinaryPrimitives.ReadUInt16LittleEndian(overrides[1].AsSpan(8))); // level, active-high
    }

    [Fact]
    public void FadtFieldsSitAtTheirSpecOffsets()
    {
        var (memory, rsdp) = Build(1);
        using var _ = memory;
        var tables = ReadAll(memory, rsdp);
        byte[] fadt = tables["FACP"];
        ReadOnlySpan<byte> f = fadt;
        // Offsets written out from ACPI 6.5 Table 5.9, independent of Fadt.Offsets.
        Assert.Equal(276, fadt.Length);
        Assert.Equal(6, f[8]);          // revision
        Assert.Equal(5, f[131]);        // FADT minor version
        Assert.Equal(9, BinaryPrimitives.ReadUInt16LittleEndian(f[46..]));     // SCI_INT
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(f[48..]));    // SMI_CMD
        Assert.Equal(0x600u, BinaryPrimitives.ReadUInt32LittleEndian(f[56..])); // PM1a_EVT_BLK
        Assert.Equal(0x604u, BinaryPrimitives.ReadUInt32LittleEndian(f[64..])); // PM1a_CNT_BLK
        Assert.Equal(0x608u, BinaryPrimitives.ReadUInt32LittleEndian(f[76..])); // PM_TMR_BLK
        Assert.Equal(4, f[88]);  // PM1_EVT_LEN
        Assert.Equal(2, f[89]);  // PM1_CNT_LEN
        Assert.Equal(4, f[91]);  // PM_TMR_LEN
        Assert.Equal(0b110, BinaryPrimitives.ReadUInt16LittleEndian(f[109..]) & 0b110); // 8042, VGA not present
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(f[112..]);
        Assert.NotEqual(0u, flags & (1u << 10));  // RESET_REG_SUP
        Assert.Equal(0u, flags & (1u << 20));     // not HW_REDUCED_ACPI
        Assert.Equal(0u, flags & (1u << 8));      // 24-bit timer
        Assert.Equal(new byte[] { 1, 8, 0, 1, 0xF9, 0x0C, 0, 0, 0, 0, 0, 0 }, fadt[116..128]); // RESET_REG: I/O 0xCF9
        Assert.Equal(0x06, f[128]);     // RESET_VALUE
        // DSDT and FACS: legacy and X_ addresses agree and point at the tables.
        uint dsdt = BinaryPrimitives.ReadUInt32LittleEndian(f[40..]);
        Assert.Equal(dsdt, BinaryPrimitives.ReadUInt64LittleEndian(f[140..]));
        Assert.Equal("DSDT", Signature(ReadTable(memory, dsdt)));
        uint facs = BinaryPrimitives.ReadUInt32LittleEndian(f[36..]);
        Assert.Equal(facs, BinaryPrimitives.ReadUInt64LittleEndian(f[132..]));
        Assert.Equal(0u, facs % 64);
        Assert.Equal("FACS", Signature(ReadTable(memory, facs)));
        // X_PM1a_EVT_BLK, X_PM1a_CNT_BLK, X_PM_TMR_BLK: system I/O, bit widths matching the legacy lengths.
        Assert.Equal(new byte[] { 1, 32, 0, 2, 0x00, 0x06, 0, 0, 0, 0, 0, 0 }, fadt[148..160]);
        Assert.Equal(new byte[] { 1, 16, 0, 2, 0x04, 0x06, 0, 0, 0, 0, 0, 0 }, fadt[172..184]);
        Assert.Equal(new byte[] { 1, 32, 0, 3, 0x08, 0x06, 0, 0, 0, 0, 0, 0 }, fadt[208..220]);
    }

    [Fact]
    public void DsdtHoldsS5AndTheDevicesAml()
    {
        var (memory, rsdp) = Build(2);
        using var _ = memory;
        byte[] dsdt = ReadAll(memory, rsdp)["DSDT"];
        Assert.Equal(2, dsdt[8]);
        byte[] s5 = new AmlBuilder().NamePackage("\\_S5_", AcpiPmLayout.S5SleepType, AcpiPmLayout.S5SleepType, 0, 0).ToArray();
        Assert.True(dsdt.AsSpan(36).StartsWith(s5));
        var sb = new AmlBuilder();
        SampleDevices[0].WriteAml(sb);
        Assert.True(dsdt.AsSpan().IndexOf(sb.ToArray()) > 0);
    }

    [Fact]
    public void AdditionalTablesAreListedInTheXsdt()
    {
        using var memory = GuestMemory.Create(4 << 20);
        byte[] ssdt = Dsdt.Wrap("SSDT", 2, new AmlBuilder().Name("\\FOO_", 7).ToArray());
        var rsdp = AcpiTables.Build(memory, AcpiPlatform.Default(1), [], [ssdt]);
        var tables = ReadAll(memory, rsdp);
        Assert.Equal(ssdt, tables["SSDT"]);
        Assert.Equal(0, Sum(tables["SSDT"]));
    }

    [Fact]
    public void RejectsUndescribableVcpuCounts()
    {
        using var memory = GuestMemory.Create(4 << 20);
        Assert.Throws<ArgumentOutOfRangeException>(() => AcpiTables.Build(memory, AcpiPlatform.Default(0), []));
        Assert.Throws<ArgumentOutOfRangeException>(() => AcpiTables.Build(memory, AcpiPlatform.Default(255), []));
    }
}
