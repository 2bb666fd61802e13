namespace KvmSharp.Boot;

/// <summary>The kind of an address range in the BIOS e820 map (ACPI 6.5 §15, "System Address Map Interfaces").</summary>
public enum E820Type : uint
{
    Ram = 1,
    Reserved = 2,
    AcpiReclaimable = 3,
    AcpiNvs = 4,
}

/// <summary>One range of the e820 map: struct boot_e820_entry (20 bytes, packed) in Linux's zero page.</summary>
public readonly record struct E820Entry(ulong Address, ulong Size, E820Type Type)
{
    /// <summary>Bytes of one entry in boot_params.e820_table (arch/x86/include/uapi/asm/setup_data.h).</summary>
    public const int EncodedSize = 20;

    public ulong End => Address + Size;

    /// <summary>Writes the packed little-endian form: u64 addr, u64 size, u32 type.</summary>
    public void WriteTo(Span<byte> destination)
    {
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(destination, Address);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], Size);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], (uint)Type);
    }
}
