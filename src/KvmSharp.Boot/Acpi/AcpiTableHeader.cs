using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// The System Description Table Header every ACPI table but the RSDP and FACS starts with (ACPI 6.5
/// §5.2.6, Table 5.4), and the checksum rule: all bytes of a table sum to zero modulo 256.
/// </summary>
public static class AcpiTableHeader
{
    public const int Length = 36;
    public const int ChecksumOffset = 9;

    public const string OemId = "KVMSHP";
    public const string OemTableId = "KVMSHARP";
    public const uint OemRevision = 1;
    /// <summary>Vendor ID of the tool that wrote the table (us).</summary>
    public const string CreatorId = "KSHP";
    public const uint CreatorRevision = 1;

    /// <summary>A zeroed table of <paramref name="length"/> bytes with its header filled in, checksum still 0.</summary>
    public static byte[] Create(string signature, byte revision, int length)
    {
        if (signature.Length != 4)
            throw new ArgumentException($"ACPI table signature '{signature}' must be 4 characters", nameof(signature));
        ArgumentOutOfRangeException.ThrowIfLessThan(length, Length);
        var table = new byte[length];
        Encoding.ASCII.GetBytes(signature, table.AsSpan(0, 4));
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(4), (uint)length);
        table[8] = revision;
        Encoding.ASCII.GetBytes(OemId, table.AsSpan(10, 6));
        Encoding.ASCII.GetBytes(OemTableId, table.AsSpan(16, 8));
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(24), OemRevision);
        Encoding.ASCII.GetBytes(CreatorId, table.AsSpan(28, 4));
        BinaryPrimitives.WriteUInt32LittleEndian(table.AsSpan(32), CreatorRevision);
        return table;
    }

    /// <summary>Sets the checksum byte so the whole table sums to zero; call after the last byte is written.</summary>
    public static void Seal(Span<byte> table)
    {
        table[ChecksumOffset] = 0;
        table[ChecksumOffset] = Checksum(table);
    }

    /// <summary>The byte that makes <paramref name="bytes"/> sum to zero modulo 256.</summary>
    public static byte Checksum(ReadOnlySpan<byte> bytes)
    {
        byte sum = 0;
        foreach (byte b in bytes) sum += b;
        return (byte)-sum;
    }
}
