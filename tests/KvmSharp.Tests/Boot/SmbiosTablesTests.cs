using System.Buffers.Binary;
using System.Text;
using KvmSharp.Boot.Smbios;

namespace KvmSharp.Tests.Boot;

/// <summary>The SMBIOS 2.8 structures and entry point handed to firmware, read back as dmidecode would (DSP0134).</summary>
public class SmbiosTablesTests
{
    [Fact]
    public void TheStructuresCarryTheUuidCpusAndMemoryAndTheAnchorDescribesThem()
    {
        var uuid = Guid.Parse("2f0f8c2e-5b39-4d6e-9a51-0e7c1d2b3a4f");
        var (tables, anchor) = SmbiosTables.Build(new SmbiosMachine(uuid, 2, 5UL << 30, [(0, 3UL << 30), (4UL << 30, 2UL << 30)]));
        var structures = Parse(tables);
        Assert.Equal([1, 3, 4, 4, 16, 17, 19, 19, 32, 127], structures.Select(s => (int)s.Type));
        Assert.Equal(structures.Count, structures.Select(s => s.Handle).Distinct().Count());

        var system = structures[0];
        Assert.Equal(27, system.Formatted.Length);
        Assert.Equal(["KvmSharp", "KvmSharp Virtual Machine", "1", "Virtual Machine"], system.Strings);
        // DSP0134 §7.2.1: time-low, time-mid and time-high little-endian, the rest as written.
        Assert.Equal(Convert.FromHexString("2e8c0f2f395b6e4d9a510e7c1d2b3a4f"), system.Formatted[8..24]);
        Assert.Equal(["CPU 0", "KvmSharp"], structures[2].Strings);
        Assert.Equal(42, structures[2].Formatted.Length);
        Assert.Equal(5u << 20, BinaryPrimitives.ReadUInt32LittleEndian(structures[4].Formatted.AsSpan(7)));   // KiB
        Assert.Equal(5 << 10, BinaryPrimitives.ReadUInt16LittleEndian(structures[5].Formatted.AsSpan(12)));     // MiB
        Assert.Equal((0u, (3u << 20) - 1), Range(structures[6]));
        Assert.Equal((4u << 20, (6u << 20) - 1), Range(structures[7]));

        Assert.Equal(31, anchor.Length);
        Assert.Equal("_SM_", Encoding.ASCII.GetString(anchor, 0, 4));
        Assert.Equal("_DMI_", Encoding.ASCII.GetString(anchor, 16, 5));
        Assert.Equal((2, 8), (anchor[6], anchor[7]));
        Assert.Equal(tables.Length, BinaryPrimitives.ReadUInt16LittleEndian(anchor.AsSpan(22)));
        Assert.Equal(structures.Count, BinaryPrimitives.ReadUInt16LittleEndian(anchor.AsSpan(28)));
        Assert.Equal(0, anchor.Aggregate(0, (sum, b) => (sum + b) & 0xFF));
        Assert.Equal(0, anchor.Skip(16).Aggregate(0, (sum, b) => (sum + b) & 0xFF));
    }

    [Fact]
    public void WithoutAUuidTheFieldIsAllZeros()
    {
        var (tables, _) = SmbiosTables.Build(new SmbiosMachine(null, 1, 256UL << 20, [(0, 256UL << 20)]));
        Assert.Equal(new byte[16], Parse(tables)[0].Formatted[8..24]);
    }

    private static (uint, uint) Range(Structure s) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(s.Formatted.AsSpan(4)), BinaryPrimitives.ReadUInt32LittleEndian(s.Formatted.AsSpan(8)));

    private sealed record Structure(byte Type, ushort Handle, byte[] Formatted, List<string> Strings);

    private static List<Structure> Parse(byte[] tables)
    {
        var list = new List<Structure>();
        int at = 0;
        while (at < tables.Length)
        {
            byte length = tables[at + 1];
            var formatted = tables[at..(at + length)];
            int s = at + length;
            var strings = new List<string>();
            if (tables[s] == 0) s += 2;
            else
            {
                while (tables[s] != 0)
                {
                    int end = Array.IndexOf(tables, (byte)0, s);
                    strings.Add(Encoding.ASCII.GetString(tables, s, end - s));
                    s = end + 1;
                }
                s++;
            }
            list.Add(new Structure(formatted[0], BinaryPrimitives.ReadUInt16LittleEndian(formatted.AsSpan(2)), formatted, strings));
            at = s;
        }
        Assert.Equal(tables.Length, at);
        return list;
    }
}
