using System.Buffers.Binary;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// The resource descriptors of a <c>ResourceTemplate()</c> (ACPI 6.5 §6.4), as a _CRS returns them.
/// <see cref="ToArray"/> appends the End Tag. Its checksum byte is written as 0, which §6.4.2.9 defines
/// as "treat the checksum as valid"; that is also what iasl emits.
/// </summary>
public sealed class ResourceTemplate
{
    private readonly List<byte> _bytes = [];

    /// <summary>
    /// I/O Port Descriptor (ACPI 6.5 §6.4.2.5): small item 0x08, length 7 (tag 0x47); 16-bit decode,
    /// minimum = maximum = <paramref name="port"/>, alignment 1. ASL: <c>IO(Decode16, port, port, 1, length)</c>.
    /// </summary>
    public ResourceTemplate Io(ushort port, byte length)
    {
        _bytes.AddRange([0x47, 0x01, (byte)port, (byte)(port >> 8), (byte)port, (byte)(port >> 8), 0x01, length]);
        return this;
    }

    /// <summary>
    /// IRQ Descriptor without the information byte (ACPI 6.5 §6.4.2.1): small item 0x04, length 2 (tag
    /// 0x22), a 16-bit mask of ISA IRQs. The two-byte form means edge-triggered, active-high, exclusive.
    /// ASL: <c>IRQNoFlags() { irq }</c>.
    /// </summary>
    public ResourceTemplate Irq(byte irq)
    {
        if (irq > 15)
            throw new ArgumentOutOfRangeException(nameof(irq), "an IRQ descriptor names ISA IRQs 0-15");
        ushort mask = (ushort)(1 << irq);
        _bytes.AddRange([0x22, (byte)mask, (byte)(mask >> 8)]);
        return this;
    }

    /// <summary>
    /// 32-Bit Fixed Memory Range Descriptor (ACPI 6.5 §6.4.3.4): large item 0x06 (tag 0x86), length 9;
    /// information bit 0 is 1 for read/write, 0 for read-only. ASL: <c>Memory32Fixed(ReadWrite, address, length)</c>.
    /// </summary>
    public ResourceTemplate Memory32Fixed(uint address, uint length, bool writable)
    {
        Span<byte> descriptor = stackalloc byte[12];
        descriptor[0] = 0x86;
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor[1..], 9);
        descriptor[3] = writable ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[4..], address);
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[8..], length);
        foreach (byte b in descriptor) _bytes.Add(b);
        return this;
    }

    /// <summary>
    /// Extended Interrupt Descriptor with one interrupt (ACPI 6.5 §6.4.3.6): large item 0x09 (tag 0x89),
    /// for a GSI above 15 or a level-triggered/active-low line. Flags: bit 0 consumer, bit 1 level (0) or
    /// edge (1), bit 2 active-low, bit 3 shared. ASL: <c>Interrupt(ResourceConsumer, Level, ActiveLow, Shared) { gsi }</c>.
    /// </summary>
    public ResourceTemplate ExtendedInterrupt(uint gsi, bool levelTriggered, bool activeLow, bool shared)
    {
        Span<byte> descriptor = stackalloc byte[9];
        descriptor[0] = 0x89;
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor[1..], 6);
        descriptor[3] = (byte)(0x01 | (levelTriggered ? 0 : 0x02) | (activeLow ? 0x04 : 0) | (shared ? 0x08 : 0));
        descriptor[4] = 1; // interrupt table length
        BinaryPrimitives.WriteUInt32LittleEndian(descriptor[5..], gsi);
        foreach (byte b in descriptor) _bytes.Add(b);
        return this;
    }

    /// <summary>
    /// Word Address Space Descriptor for a bus number range (ACPI 6.5 §6.4.3.5.3, resource type 2), as a
    /// host bridge's _CRS gives its bus range. ASL: <c>WordBusNumber(ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, min, max, 0, count)</c>.
    /// </summary>
    public ResourceTemplate BusNumberRange(byte first, byte last) =>
        AddressSpace(0x88, 2, resourceType: 2, typeFlags: 0, first, last);

    /// <summary>
    /// Word Address Space Descriptor for I/O ports the bridge forwards (resource type 1, _RNG = entire range).
    /// ASL: <c>WordIO(ResourceProducer, MinFixed, MaxFixed, PosDecode, EntireRange, 0, min, max, 0, length)</c>.
    /// </summary>
    public ResourceTemplate IoRange(ushort first, ushort last) =>
        AddressSpace(0x88, 2, resourceType: 1, typeFlags: 0x03, first, last);

    /// <summary>
    /// DWord (below 4 GiB) or QWord Address Space Descriptor for a memory window the bridge forwards
    /// (ACPI 6.5 §6.4.3.5.1-2, resource type 0; type flags: read/write, non-cacheable).
    /// ASL: <c>DWordMemory(ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0, min, max, 0, length)</c>.
    /// </summary>
    public ResourceTemplate MemoryRange(ulong first, ulong last) =>
        last <= uint.MaxValue
            ? AddressSpace(0x87, 4, resourceType: 0, typeFlags: 0x01, first, last)
            : AddressSpace(0x8A, 8, resourceType: 0, typeFlags: 0x01, first, last);

    /// <summary>
    /// The shared layout of Word/DWord/QWord Address Space Descriptors (§6.4.3.5): tag, length, resource
    /// type, general flags (producer, positive decode, min and max fixed: 0x0C), type flags, then
    /// granularity, minimum, maximum, translation offset and length, each <paramref name="width"/> bytes.
    /// </summary>
    private ResourceTemplate AddressSpace(byte tag, int width, byte resourceType, byte typeFlags, ulong first, ulong last)
    {
        if (last < first) throw new ArgumentOutOfRangeException(nameof(last), "an address range ends before it starts");
        int length = 3 + 5 * width;
        var descriptor = new byte[3 + length];
        descriptor[0] = tag;
        BinaryPrimitives.WriteUInt16LittleEndian(descriptor.AsSpan(1), (ushort)length);
        descriptor[3] = resourceType;
        descriptor[4] = 0x0C;
        descriptor[5] = typeFlags;
        ulong[] fields = [0, first, last, 0, last - first + 1];
        Span<byte> value = stackalloc byte[8];
        for (int i = 0; i < fields.Length; i++)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(value, fields[i]);
            value[..width].CopyTo(descriptor.AsSpan(6 + i * width, width));
        }
        _bytes.AddRange(descriptor);
        return this;
    }

    /// <summary>The descriptors followed by the End Tag (ACPI 6.5 §6.4.2.9: tag 0x79, checksum 0).</summary>
    public byte[] ToArray() => [.. _bytes, 0x79, 0x00];
}
