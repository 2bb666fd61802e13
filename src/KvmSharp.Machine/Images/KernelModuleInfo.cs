using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Machine.Images;

/// <summary>
/// Reads a kernel module's own name and the modules it needs from its ".modinfo" ELF section
/// ("name=virtio_net", "depends=net_failover,virtio,virtio_ring": NUL-separated key=value strings that
/// modpost writes from the symbols the module imports). Debian's kernel package ships no modules.dep
/// (depmod makes it at install time), and these strings are what depmod's answer comes down to.
/// The file is input: every offset and size is checked against its length (ELF-64 layout, System V gABI ch. 4).
/// </summary>
public sealed record KernelModuleInfo(string Name, IReadOnlyList<string> Depends)
{
    private static ReadOnlySpan<byte> ElfMagic => [0x7F, (byte)'E', (byte)'L', (byte)'F'];
    private const int ElfClass64 = 2, ElfDataLittle = 1;

    public static KernelModuleInfo Read(string path) => Parse(File.ReadAllBytes(path), path);

    public static KernelModuleInfo Parse(ReadOnlySpan<byte> elf, string what)
    {
        var modinfo = FindSection(elf, ".modinfo", what);
        string? name = null;
        var depends = new List<string>();
        foreach (var entry in Encoding.UTF8.GetString(modinfo).Split('\0', StringSplitOptions.RemoveEmptyEntries))
        {
            if (entry.StartsWith("name=", StringComparison.Ordinal)) name = entry[5..];
            else if (entry.StartsWith("depends=", StringComparison.Ordinal))
                depends.AddRange(entry[8..].Split(',', StringSplitOptions.RemoveEmptyEntries).Select(CanonicalName));
        }
        return new KernelModuleInfo(CanonicalName(name ?? Path.GetFileNameWithoutExtension(what)), depends);
    }

    /// <summary>The kernel treats '-' and '_' in module names as the same character; we use '_'.</summary>
    public static string CanonicalName(string name) => name.Replace('-', '_');

    private static ReadOnlySpan<byte> FindSection(ReadOnlySpan<byte> elf, string wanted, string what)
    {
        if (elf.Length < 64 || !elf[..4].SequenceEqual(ElfMagic) || elf[4] != ElfClass64 || elf[5] != ElfDataLittle)
            throw new GuestImageException($"{what} is not a 64-bit little-endian ELF file");
        ulong sectionTable = BinaryPrimitives.ReadUInt64LittleEndian(elf[0x28..]);
        int entrySize = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3A..]);
        int count = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3C..]);
        int namesIndex = BinaryPrimitives.ReadUInt16LittleEndian(elf[0x3E..]);
        if (entrySize < 64 || namesIndex >= count || !Fits(elf, sectionTable, (ulong)entrySize * (ulong)count))
            throw new GuestImageException($"{what} has a malformed ELF section table");

        static ReadOnlySpan<byte> Section(ReadOnlySpan<byte> elf, ulong sectionTable, int entrySize, int index, string what, out uint nameOffset)
        {
            var header = elf.Slice((int)sectionTable + index * entrySize, entrySize);
            nameOffset = BinaryPrimitives.ReadUInt32LittleEndian(header);
            ulong offset = BinaryPrimitives.ReadUInt64LittleEndian(header[0x18..]);
            ulong size = BinaryPrimitives.ReadUInt64LittleEndian(header[0x20..]);
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
            const uint noBits = 8; // SHT_NOBITS occupies no file space
            if (type == noBits) return [];
            if (!Fits(elf, offset, size)) throw new GuestImageException($"{what}: ELF section {index} lies outside the file");
            return elf.Slice((int)offset, (int)size);
        }

        var names = Section(elf, sectionTable, entrySize, namesIndex, what, out _);
        for (int i = 0; i < count; i++)
        {
            var contents = Section(elf, sectionTable, entrySize, i, what, out uint nameOffset);
            if (nameOffset >= names.Length) continue;
            var rest = names[(int)nameOffset..];
            int end = rest.IndexOf((byte)0);
            if (end >= 0 && Encoding.ASCII.GetString(rest[..end]) == wanted) return contents;
        }
        throw new GuestImageException($"{what} has no {wanted} section: not a kernel module");
    }

    private static bool Fits(ReadOnlySpan<byte> file, ulong offset, ulong size) =>
        offset <= (ulong)file.Length && size <= (ulong)file.Length - offset;
}
