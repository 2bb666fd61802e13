using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// Firmware ACPI Control Structure (ACPI 6.5 §5.2.10, Table 5.14): required by a full (not
/// hardware-reduced) FADT. It has no checksum and must be 64-byte aligned. We support no S4 and no
/// waking vector, so all but signature, length and version stay zero.
/// </summary>
public static class Facs
{
    public const int Length = 64;
    public const int Alignment = 64;
    public const byte Version = 2;

    public static byte[] Build()
    {
        var facs = new byte[Length];
        Encoding.ASCII.GetBytes("FACS", facs.AsSpan(0, 4));
        BinaryPrimitives.WriteUInt32LittleEndian(facs.AsSpan(4), Length);
        facs[32] = Version;
        return facs;
    }
}
