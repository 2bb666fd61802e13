using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// QEMU's "etc/table-loader" (the BIOS linker/loader, read by SeaBIOS's romfile_loader and OVMF's
/// AcpiPlatformDxe): a list of 128-byte commands, each a little-endian command number and its arguments. The
/// firmware allocates each named fw_cfg file in its memory, patches pointers between them (a pointer field holds an
/// offset into its target file; the firmware adds the file's address) and fixes checksums after patching. So the
/// VMM builds ACPI tables without knowing where they will live.
/// </summary>
public sealed class TableLoaderScript
{
    public const int EntryBytes = 128;
    private const int FileNameBytes = 56;
    private const uint Allocate = 1, AddPointer = 2, AddChecksum = 3;

    /// <summary>Where ALLOCATE puts a file: anywhere in high RAM, or in the F segment (where an RSDP scan looks).</summary>
    public enum Zone : byte { High = 1, FSegment = 2 }

    private readonly List<byte[]> _entries = [];

    public void AllocateFile(string file, uint alignment, Zone zone)
    {
        var entry = Entry(Allocate);
        Name(entry.AsSpan(4), file);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4 + FileNameBytes), alignment);
        entry[4 + FileNameBytes + 4] = (byte)zone;
    }

    /// <summary>Adds <paramref name="target"/>'s address to the <paramref name="size"/>-byte pointer at <paramref name="offset"/> in <paramref name="file"/>.</summary>
    public void AddPointerTo(string file, string target, uint offset, byte size)
    {
        if (size is not (1 or 2 or 4 or 8)) throw new ArgumentOutOfRangeException(nameof(size), "a pointer has 1, 2, 4 or 8 bytes");
        var entry = Entry(AddPointer);
        Name(entry.AsSpan(4), file);
        Name(entry.AsSpan(4 + FileNameBytes), target);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4 + 2 * FileNameBytes), offset);
        entry[4 + 2 * FileNameBytes + 4] = size;
    }

    /// <summary>Sets the byte at <paramref name="offset"/> so that [start, start+length) of <paramref name="file"/> sums to zero.</summary>
    public void AddChecksumOf(string file, uint offset, uint start, uint length)
    {
        var entry = Entry(AddChecksum);
        Name(entry.AsSpan(4), file);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4 + FileNameBytes), offset);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4 + FileNameBytes + 4), start);
        BinaryPrimitives.WriteUInt32LittleEndian(entry.AsSpan(4 + FileNameBytes + 8), length);
    }

    public byte[] ToArray() => [.. _entries.SelectMany(e => e)];

    private byte[] Entry(uint command)
    {
        var entry = new byte[EntryBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(entry, command);
        _entries.Add(entry);
        return entry;
    }

    private static void Name(Span<byte> field, string name)
    {
        if (name.Length == 0 || name.Length >= FileNameBytes || name.Any(c => c is < ' ' or > '~'))
            throw new ArgumentException($"'{name}' is not a fw_cfg file name", nameof(name));
        Encoding.ASCII.GetBytes(name, field);
    }
}
