using System.Text;

namespace KvmSharp.Boot.Smbios;

/// <summary>
/// One SMBIOS structure (DMTF DSP0134 3.x §6.1.2): a formatted area (type, length, handle, fields) and the strings
/// its fields point at by 1-based number, each NUL-terminated, the set ended by another NUL (two NULs when empty).
/// </summary>
internal sealed class SmbiosStructure
{
    private readonly List<byte> _formatted = [];
    private readonly List<string> _strings = [];

    public SmbiosStructure(byte type, ushort handle)
    {
        _formatted.Add(type);
        _formatted.Add(0);   // length, set by ToArray
        U16(handle);
    }

    public SmbiosStructure U8(byte value) { _formatted.Add(value); return this; }

    public SmbiosStructure U16(ushort value) { _formatted.Add((byte)value); _formatted.Add((byte)(value >> 8)); return this; }

    public SmbiosStructure U32(uint value) { U16((ushort)value); return U16((ushort)(value >> 16)); }

    public SmbiosStructure U64(ulong value) { U32((uint)value); return U32((uint)(value >> 32)); }

    public SmbiosStructure Bytes(ReadOnlySpan<byte> bytes) { foreach (byte b in bytes) _formatted.Add(b); return this; }

    /// <summary>A string field: its number, or 0 (no string) for null or empty.</summary>
    public SmbiosStructure String(string? value)
    {
        if (string.IsNullOrEmpty(value)) return U8(0);
        if (value.Any(c => c is < ' ' or > '~')) throw new ArgumentException($"SMBIOS strings are printable ASCII: '{value}'");
        _strings.Add(value);
        return U8((byte)_strings.Count);
    }

    public byte[] ToArray()
    {
        if (_formatted.Count > byte.MaxValue) throw new InvalidOperationException("an SMBIOS formatted area has at most 255 bytes");
        var bytes = new List<byte>(_formatted) { [1] = (byte)_formatted.Count };
        foreach (var s in _strings) { bytes.AddRange(Encoding.ASCII.GetBytes(s)); bytes.Add(0); }
        if (_strings.Count == 0) bytes.Add(0);
        bytes.Add(0);
        return [.. bytes];
    }
}
