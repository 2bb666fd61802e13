using System.Buffers.Binary;

namespace KvmSharp.Boot.Acpi;

/// <summary>Address spaces of a Generic Address Structure (ACPI 6.5 §5.2.3.2, Table 5.1).</summary>
public enum AddressSpace : byte
{
    SystemMemory = 0,
    SystemIo = 1,
}

/// <summary>Access sizes of a Generic Address Structure (ACPI 6.5 §5.2.3.2).</summary>
public enum AccessSize : byte
{
    Undefined = 0,
    Byte = 1,
    Word = 2,
    DWord = 3,
    QWord = 4,
}

/// <summary>A Generic Address Structure: 12 bytes naming a register (ACPI 6.5 §5.2.3.2).</summary>
public readonly record struct GenericAddress(AddressSpace Space, byte BitWidth, byte BitOffset, AccessSize AccessSize, ulong Address)
{
    public const int Length = 12;

    /// <summary>A whole register block of <paramref name="lengthBytes"/> bytes in port space.</summary>
    public static GenericAddress Io(ushort port, int lengthBytes, AccessSize accessSize) =>
        new(AddressSpace.SystemIo, (byte)(lengthBytes * 8), 0, accessSize, port);

    public void WriteTo(Span<byte> destination)
    {
        destination[0] = (byte)Space;
        destination[1] = BitWidth;
        destination[2] = BitOffset;
        destination[3] = (byte)AccessSize;
        BinaryPrimitives.WriteUInt64LittleEndian(destination[4..], Address);
    }
}
