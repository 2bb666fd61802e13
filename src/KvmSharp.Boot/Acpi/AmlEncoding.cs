using System.Buffers.Binary;

namespace KvmSharp.Boot.Acpi;

/// <summary>The primitive encodings of AML: package lengths, names, integers, strings and EISA IDs.</summary>
public static class AmlEncoding
{
    /// <summary>The largest value a PkgLength can hold (28 bits, ACPI 6.5 §20.2.4).</summary>
    public const int MaxPackageLength = 0x0FFF_FFFF;

    /// <summary>
    /// The PkgLength for a package whose contents after the PkgLength are <paramref name="contentLength"/>
    /// bytes. Per ACPI 6.5 §20.2.4 the encoded value counts the PkgLength bytes themselves. One byte holds
    /// values up to 63 (bits 0-5); otherwise bits 6-7 of the lead byte give the count (1-3) of bytes that
    /// follow, the lead byte's bits 0-3 hold the low nibble and each following byte the next 8 bits.
    /// </summary>
    public static byte[] PackageLength(int contentLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(contentLength);
        if (contentLength + 1 <= 0x3F)
            return [(byte)(contentLength + 1)];
        for (int following = 1; following <= 3; following++)
        {
            long value = (long)contentLength + 1 + following;
            if (value >= 1L << (4 + 8 * following))
                continue;
            var encoded = new byte[1 + following];
            encoded[0] = (byte)((following << 6) | (int)(value & 0x0F));
            for (int i = 1; i <= following; i++)
                encoded[i] = (byte)(value >> (4 + 8 * (i - 1)));
            return encoded;
        }
        throw new ArgumentOutOfRangeException(nameof(contentLength), $"AML package of {contentLength} bytes exceeds the 28-bit PkgLength");
    }

    /// <summary>
    /// A NameString (ACPI 6.5 §20.2.2): an optional root <c>\</c> or parent prefixes <c>^</c>, then
    /// dot-separated segments of 1-4 characters (a lead of A-Z or _, then A-Z, 0-9 or _), each padded with
    /// <c>_</c> to four. Two segments take DualNamePrefix, more take MultiNamePrefix and a count; no
    /// segment at all (<c>\</c> alone) is the NullName.
    /// </summary>
    public static byte[] NameString(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var bytes = new List<byte>();
        int i = 0;
        if (path.StartsWith('\\'))
        {
            bytes.Add(AmlOpcodes.RootChar);
            i = 1;
        }
        else
        {
            while (i < path.Length && path[i] == '^')
            {
                bytes.Add(AmlOpcodes.ParentPrefixChar);
                i++;
            }
        }
        string rest = path[i..];
        if (rest.Length == 0)
        {
            bytes.Add(AmlOpcodes.NullName);
            return [.. bytes];
        }
        string[] segments = rest.Split('.');
        if (segments.Length == 2)
            bytes.Add(AmlOpcodes.DualNamePrefix);
        else if (segments.Length > 2)
        {
            if (segments.Length > 255)
                throw new ArgumentException($"AML name '{path}' has more than 255 segments", nameof(path));
            bytes.Add(AmlOpcodes.MultiNamePrefix);
            bytes.Add((byte)segments.Length);
        }
        foreach (string segment in segments)
            AppendNameSeg(bytes, segment, path);
        return [.. bytes];
    }

    private static void AppendNameSeg(List<byte> bytes, string segment, string path)
    {
        if (segment.Length is < 1 or > 4)
            throw new ArgumentException($"AML name segment '{segment}' in '{path}' must be 1-4 characters", nameof(path));
        for (int i = 0; i < 4; i++)
        {
            char c = i < segment.Length ? segment[i] : '_';
            bool valid = c is (>= 'A' and <= 'Z') or '_' || (i > 0 && c is >= '0' and <= '9');
            if (!valid)
                throw new ArgumentException($"AML name segment '{segment}' in '{path}' may hold only A-Z, _ and (not first) 0-9", nameof(path));
            bytes.Add((byte)c);
        }
    }

    /// <summary>
    /// An integer as a ComputationalData term (ACPI 6.5 §20.2.3), in its shortest form: ZeroOp, OneOp,
    /// OnesOp (all 64 bits set; tables built here have revision 2, so integers are 64-bit), or a
    /// Byte/Word/DWord/QWord prefix and the value, little-endian.
    /// </summary>
    public static byte[] Integer(ulong value)
    {
        switch (value)
        {
            case 0: return [AmlOpcodes.ZeroOp];
            case 1: return [AmlOpcodes.OneOp];
            case ulong.MaxValue: return [AmlOpcodes.OnesOp];
            case <= byte.MaxValue: return [AmlOpcodes.BytePrefix, (byte)value];
            case <= ushort.MaxValue: return [AmlOpcodes.WordPrefix, (byte)value, (byte)(value >> 8)];
            case <= uint.MaxValue:
                return [AmlOpcodes.DWordPrefix, (byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24)];
        }
        var encoded = new byte[9];
        encoded[0] = AmlOpcodes.QWordPrefix;
        BinaryPrimitives.WriteUInt64LittleEndian(encoded.AsSpan(1), value);
        return encoded;
    }

    /// <summary>A String term (ACPI 6.5 §20.2.3): StringPrefix, ASCII characters 0x01-0x7F, NullChar.</summary>
    public static byte[] String(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var encoded = new byte[value.Length + 2];
        encoded[0] = AmlOpcodes.StringPrefix;
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] is < '\x01' or > '\x7F')
                throw new ArgumentException($"AML strings hold ASCII 0x01-0x7F only: '{value}'", nameof(value));
            encoded[i + 1] = (byte)value[i];
        }
        return encoded;
    }

    /// <summary>
    /// The compressed EISA ID of the ASL EISAID() macro (ACPI 6.5 §19.6.41): three upper-case letters of
    /// 5 bits each (letter - 0x40) and four hex digits of a product number, packed big-endian into a
    /// 32-bit value that is stored byte-swapped. "PNP0501" is 0x0105D041.
    /// </summary>
    public static uint EisaId(string id)
    {
        ArgumentNullException.ThrowIfNull(id);
        if (id.Length != 7 || !IsUpperLetter(id[0]) || !IsUpperLetter(id[1]) || !IsUpperLetter(id[2])
            || !ushort.TryParse(id.AsSpan(3), System.Globalization.NumberStyles.AllowHexSpecifier, null, out ushort product))
            throw new ArgumentException($"EISA ID '{id}' must be three letters A-Z and four hex digits, like PNP0501", nameof(id));
        uint vendor = (uint)((id[0] - 0x40) << 10 | (id[1] - 0x40) << 5 | (id[2] - 0x40));
        return BinaryPrimitives.ReverseEndianness(vendor << 16 | product);
    }

    private static bool IsUpperLetter(char c) => c is >= 'A' and <= 'Z';
}
