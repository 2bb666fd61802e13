using System.Buffers.Binary;

namespace KvmSharp.Devices.Virtio.Block;

/// <summary>
/// The device-specific configuration of virtio-blk (virtio 1.2 §5.2.4, <c>struct virtio_blk_config</c>),
/// little-endian, laid out once at construction; the driver only reads it (writeback, the one writable
/// field, needs CONFIG_WCE, which we do not offer).
/// </summary>
internal static class BlockConfigSpace
{
    /// <summary>Up to and including secure_erase_sector_alignment.</summary>
    public const int Size = 72;

    private const int Capacity = 0;
    private const int SegMax = 12;
    private const int BlkSize = 20;
    private const int NumQueues = 34;
    private const int MaxDiscardSectors = 36;
    private const int MaxDiscardSeg = 40;
    private const int DiscardSectorAlignment = 44;
    private const int MaxWriteZeroesSectors = 48;
    private const int MaxWriteZeroesSeg = 52;
    private const int WriteZeroesMayUnmap = 56;

    public static byte[] Build(ulong capacitySectors)
    {
        var config = new byte[Size];
        var c = config.AsSpan();
        BinaryPrimitives.WriteUInt64LittleEndian(c[Capacity..], capacitySectors);
        BinaryPrimitives.WriteUInt32LittleEndian(c[SegMax..], BlockLimits.SegMax);
        BinaryPrimitives.WriteUInt32LittleEndian(c[BlkSize..], BlockLimits.SectorSize);
        BinaryPrimitives.WriteUInt16LittleEndian(c[NumQueues..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(c[MaxDiscardSectors..], BlockLimits.MaxRangeSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(c[MaxDiscardSeg..], BlockLimits.MaxRangeSegments);
        BinaryPrimitives.WriteUInt32LittleEndian(c[DiscardSectorAlignment..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(c[MaxWriteZeroesSectors..], BlockLimits.MaxRangeSectors);
        BinaryPrimitives.WriteUInt32LittleEndian(c[MaxWriteZeroesSeg..], BlockLimits.MaxRangeSegments);
        c[WriteZeroesMayUnmap] = 1;
        return config;
    }
}
