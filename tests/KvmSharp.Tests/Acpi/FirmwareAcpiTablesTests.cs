using System.Buffers.Binary;
using System.Text;
using KvmSharp.Boot.Acpi;

namespace KvmSharp.Tests.Acpi;

/// <summary>
/// The tables firmware installs from fw_cfg: the loader script run here as SeaBIOS's romfile_loader runs it (allocate
/// each file at an address, add the target file's address to each pointer, fix each checksum), then the result walked
/// from the RSDP as an OS does.
/// </summary>
public class FirmwareAcpiTablesTests
{
    private const ulong TablesAt = 0x7FF_0000, RsdpAt = 0xF5A40;

    [Fact]
    public void TheLoaderScriptPlacesLinksAndChecksumsEveryTable()
    {
        var built = FirmwareAcpiTables.Build(AcpiPlatform.Default(2), [], [Mcfg.Build(0xE000_0000, 0, 0)]);
        Assert.Equal(0, built.Loader.Length % TableLoaderScript.EntryBytes);
        var files = new Dictionary<string, (byte[] Data, ulong Address)>
        {
            [FirmwareAcpiTables.TablesFile] = ((byte[])built.Tables.Clone(), TablesAt),
            [FirmwareAcpiTables.RsdpFile] = ((byte[])built.Rsdp.Clone(), RsdpAt),
        };
        var allocated = Run(built.Loader, files);
        Assert.Equal([FirmwareAcpiTables.RsdpFile, FirmwareAcpiTables.TablesFile], allocated);

        byte[] rsdp = files[FirmwareAcpiTables.RsdpFile].Data, tables = files[FirmwareAcpiTables.TablesFile].Data;
        Assert.Equal("RSD PTR ", Encoding.ASCII.GetString(rsdp, 0, 8));
        Assert.Equal(0, Sum(rsdp.AsSpan(0, 20)));
        Assert.Equal(0, Sum(rsdp.AsSpan(0, 36)));
        var xsdt = Table(tables, BinaryPrimitives.ReadUInt64LittleEndian(rsdp.AsSpan(24)), "XSDT");
        var rsdt = Table(tables, BinaryPrimitives.ReadUInt32LittleEndian(rsdp.AsSpan(16)), "RSDT");
        var listed = new List<string>();
        for (int i = 36; i < xsdt.Length; i += 8)
        {
            ulong address = BinaryPrimitives.ReadUInt64LittleEndian(xsdt[i..]);
            Assert.Equal(address, BinaryPrimitives.ReadUInt32LittleEndian(rsdt[(36 + (i - 36) / 2)..]));
            listed.Add(Encoding.ASCII.GetString(tables, (int)(address - TablesAt), 4));
            Table(tables, address, listed[^1]);
        }
        Assert.Equal(["FACP", "APIC", "MCFG"], listed);
        var fadt = Table(tables, BinaryPrimitives.ReadUInt64LittleEndian(xsdt[36..]), "FACP");
        Table(tables, BinaryPrimitives.ReadUInt64LittleEndian(fadt[140..]), "DSDT");
        Assert.Equal(BinaryPrimitives.ReadUInt32LittleEndian(fadt[40..]), BinaryPrimitives.ReadUInt64LittleEndian(fadt[140..]));
        ulong facs = BinaryPrimitives.ReadUInt64LittleEndian(fadt[132..]);
        Assert.Equal(0u, (uint)facs % 64);
        Assert.Equal("FACS", Encoding.ASCII.GetString(tables, (int)(facs - TablesAt), 4));
    }

    /// <summary>The table at <paramref name="address"/>: its signature, and a checksum that sums to zero.</summary>
    private static ReadOnlySpan<byte> Table(byte[] tables, ulong address, string signature)
    {
        Assert.InRange(address, TablesAt, TablesAt + (ulong)tables.Length - 36);
        int at = (int)(address - TablesAt);
        Assert.Equal(signature, Encoding.ASCII.GetString(tables, at, 4));
        int length = BinaryPrimitives.ReadInt32LittleEndian(tables.AsSpan(at + 4));
        Assert.Equal(0, Sum(tables.AsSpan(at, length)));
        return tables.AsSpan(at, length);
    }

    /// <summary>The loader's three commands (QEMU hw/acpi/bios-linker-loader.c's format); returns the files allocated, in order.</summary>
    private static List<string> Run(byte[] script, Dictionary<string, (byte[] Data, ulong Address)> files)
    {
        var allocated = new List<string>();
        static string Name(ReadOnlySpan<byte> field) => Encoding.ASCII.GetString(field[..field.IndexOf((byte)0)]);
        for (int at = 0; at < script.Length; at += TableLoaderScript.EntryBytes)
        {
            var entry = script.AsSpan(at, TableLoaderScript.EntryBytes);
            switch (BinaryPrimitives.ReadUInt32LittleEndian(entry))
            {
                case 1:
                    string file = Name(entry[4..60]);
                    Assert.Equal(0ul, files[file].Address % BinaryPrimitives.ReadUInt32LittleEndian(entry[60..]));
                    Assert.Equal(file == FirmwareAcpiTables.RsdpFile ? 2 : 1, entry[64]);
                    allocated.Add(file);
                    break;
                case 2:
                {
                    var dest = files[Name(entry[4..60])].Data;
                    ulong target = files[Name(entry[60..116])].Address;
                    int offset = BinaryPrimitives.ReadInt32LittleEndian(entry[116..]), size = entry[120];
                    Span<byte> pointer = stackalloc byte[8];
                    dest.AsSpan(offset, size).CopyTo(pointer);
                    BinaryPrimitives.WriteUInt64LittleEndian(pointer, BinaryPrimitives.ReadUInt64LittleEndian(pointer) + target);
                    pointer[..size].CopyTo(dest.AsSpan(offset));
                    break;
                }
                case 3:
                {
                    var data = files[Name(entry[4..60])].Data;
                    int offset = BinaryPrimitives.ReadInt32LittleEndian(entry[60..]);
                    int start = BinaryPrimitives.ReadInt32LittleEndian(entry[64..]), length = BinaryPrimitives.ReadInt32LittleEndian(entry[68..]);
                    data[offset] -= Sum(data.AsSpan(start, length));
                    break;
                }
                default:
                    Assert.Fail($"loader command {BinaryPrimitives.ReadUInt32LittleEndian(entry)} at entry {at / TableLoaderScript.EntryBytes}");
                    break;
            }
        }
        return allocated;
    }

    private static byte Sum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes) sum += b;
        return sum;
    }
}
