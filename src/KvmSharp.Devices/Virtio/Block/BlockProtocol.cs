namespace KvmSharp.Devices.Virtio.Block;

/// <summary>virtio-blk request types (virtio 1.2 §5.2.6, <c>VIRTIO_BLK_T_*</c>).</summary>
internal static class BlockRequestType
{
    public const uint In = 0;
    public const uint Out = 1;
    public const uint Flush = 4;
    public const uint GetId = 8;
    public const uint Discard = 11;
    public const uint WriteZeroes = 13;
}

/// <summary>The status byte at the end of every request (virtio 1.2 §5.2.6, <c>VIRTIO_BLK_S_*</c>).</summary>
internal static class BlockStatus
{
    public const byte Ok = 0;
    public const byte IoError = 1;
    public const byte Unsupported = 2;
}

/// <summary>virtio-blk feature bits (virtio 1.2 §5.2.3) as masks.</summary>
public static class BlockFeatures
{
    /// <summary>VIRTIO_BLK_F_SEG_MAX (2): seg_max in config is the most data segments per request.</summary>
    public const ulong SegMax = 1UL << 2;
    /// <summary>VIRTIO_BLK_F_RO (5): the disk is read-only.</summary>
    public const ulong ReadOnly = 1UL << 5;
    /// <summary>VIRTIO_BLK_F_BLK_SIZE (6): blk_size in config is the logical block size.</summary>
    public const ulong BlockSize = 1UL << 6;
    /// <summary>VIRTIO_BLK_F_FLUSH (9): the FLUSH request exists (and the cache is write-back).</summary>
    public const ulong Flush = 1UL << 9;
    /// <summary>VIRTIO_BLK_F_DISCARD (13).</summary>
    public const ulong Discard = 1UL << 13;
    /// <summary>VIRTIO_BLK_F_WRITE_ZEROES (14).</summary>
    public const ulong WriteZeroes = 1UL << 14;
}

/// <summary>Sizes and limits of the request format and of what this device accepts.</summary>
internal static class BlockLimits
{
    /// <summary>virtio-blk addresses the disk in 512-byte sectors whatever blk_size says (§5.2.6).</summary>
    public const int SectorSize = 512;
    public const int SectorShift = 9;

    /// <summary>le32 type, le32 reserved, le64 sector (§5.2.6).</summary>
    public const int HeaderSize = 16;

    /// <summary>The serial returned by GET_ID: 20 bytes, NUL-terminated only when shorter (§5.2.6.1).</summary>
    public const int IdSize = 20;

    /// <summary>One discard/write-zeroes segment: le64 sector, le32 num_sectors, le32 flags (§5.2.6).</summary>
    public const int SegmentSize = 16;

    /// <summary>flags bit 0 of a write-zeroes segment: the device may deallocate the range (§5.2.6).</summary>
    public const uint UnmapFlag = 1;

    /// <summary>The queue size we offer; Linux keeps this many requests in flight.</summary>
    public const ushort QueueSize = 256;

    /// <summary>Data segments per request we advertise (seg_max, §5.2.4): the queue size less header and status.</summary>
    public const uint SegMax = QueueSize - 2;

    /// <summary>Descriptors per chain we look at: seg_max plus header and status, with room for split headers.</summary>
    public const int MaxDescriptors = QueueSize + 2;

    /// <summary>Discard/write-zeroes limits we advertise (§5.2.4): 4 GiB - 512 per request, 256 segments.</summary>
    public const uint MaxRangeSectors = uint.MaxValue >> SectorShift;
    public const uint MaxRangeSegments = 256;
}
