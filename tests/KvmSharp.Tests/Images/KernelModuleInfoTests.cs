using System.Buffers.Binary;
using System.Text;
using KvmSharp.Machine.Images;

namespace KvmSharp.Tests.Images;

/// <summary>Reading a module's name and dependencies from its ELF .modinfo section; malformed files are one-line errors.</summary>
public class KernelModuleInfoTests
{
    /// <summary>A minimal ELF-64 relocatable file: a null section, .modinfo and .shstrtab (System V gABI ch. 4).</summary>
    private static byte[] Elf(string modinfo)
    {
        byte[] names = Encoding.ASCII.GetBytes("\0.modinfo\0.shstrtab\0");
        byte[] info = Encoding.ASCII.GetBytes(modinfo);
        int infoOffset = 64, namesOffset = infoOffset + info.Length, table = (namesOffset + names.Length + 7) & ~7;
        var elf = new byte[table + 3 * 64];
        "\u007fELF"u8.CopyTo(elf);
        elf[4] = 2; elf[5] = 1; elf[6] = 1;
        BinaryPrimitives.WriteUInt64LittleEndian(elf.AsSpan(0x28), (ulong)table);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x3A), 64);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x3C), 3);
        BinaryPrimitives.WriteUInt16LittleEndian(elf.AsSpan(0x3E), 2);
        info.CopyTo(elf, infoOffset);
        names.CopyTo(elf, namesOffset);
        void Section(int index, uint name, uint type, int offset, int size)
        {
            var header = elf.AsSpan(table + index * 64);
            BinaryPrimitives.WriteUInt32LittleEndian(header, name);
            BinaryPrimitives.WriteUInt32LittleEndian(header[4..], type);
            BinaryPrimitives.WriteUInt64LittleEndian(header[0x18..], (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(header[0x20..], (ulong)size);
        }
        Section(1, 1, 1 /* SHT_PROGBITS */, infoOffset, info.Length);
        Section(2, 10, 3 /* SHT_STRTAB */, namesOffset, names.Length);
        return elf;
    }

    [Fact]
    public void ReadsNameAndDependsWithDashesAsUnderscores()
    {
        var info = KernelModuleInfo.Parse(Elf("license=GPL\0depends=virtio_ring,net-failover\0name=virtio-net\0"), "virtio_net.ko");
        Assert.Equal("virtio_net", info.Name);
        Assert.Equal(["virtio_ring", "net_failover"], info.Depends);
        Assert.Empty(KernelModuleInfo.Parse(Elf("depends=\0name=virtio_ring\0"), "virtio_ring.ko").Depends);
    }

    [Fact]
    public void MalformedFilesAreReportedNotCrashedOn()
    {
        byte[] good = Elf("depends=\0name=x\0");
        Assert.Contains("not a 64-bit little-endian ELF", Assert.Throws<GuestImageException>(() => KernelModuleInfo.Parse(good.AsSpan(0, 40), "x.ko")).Message);

        byte[] table = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt64LittleEndian(table.AsSpan(0x28), ulong.MaxValue - 8);
        Assert.Contains("malformed ELF section table", Assert.Throws<GuestImageException>(() => KernelModuleInfo.Parse(table, "x.ko")).Message);

        byte[] section = (byte[])good.Clone();
        int sectionTable = (int)BinaryPrimitives.ReadUInt64LittleEndian(good.AsSpan(0x28));
        BinaryPrimitives.WriteUInt64LittleEndian(section.AsSpan(sectionTable + 64 + 0x20), ulong.MaxValue);
        Assert.Contains("lies outside the file", Assert.Throws<GuestImageException>(() => KernelModuleInfo.Parse(section, "x.ko")).Message);

        byte[] renamed = Elf("name=x\0");
        int at = renamed.AsSpan().IndexOf(".modinfo"u8);
        renamed[at + 8 - 1] = (byte)'X';
        Assert.Contains("has no .modinfo section", Assert.Throws<GuestImageException>(() => KernelModuleInfo.Parse(renamed, "x.ko")).Message);
    }
}
