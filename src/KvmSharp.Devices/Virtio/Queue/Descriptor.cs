using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Queue;

/// <summary>
/// One buffer of a descriptor chain, already checked: [Address, Address+Length) is guest RAM in one region.
/// <see cref="IsWritable"/> buffers are for the device to write (VIRTQ_DESC_F_WRITE, virtio 1.2 §2.7.5).
/// </summary>
public readonly record struct Descriptor(GuestAddress Address, uint Length, bool IsWritable);

/// <summary>The flag bits of a descriptor (virtio 1.2 §2.7.5).</summary>
internal static class DescriptorFlags
{
    public const ushort Next = 1;
    public const ushort Write = 2;
    public const ushort Indirect = 4;

    /// <summary>Bytes per descriptor: le64 addr, le32 len, le16 flags, le16 next.</summary>
    public const int Size = 16;
}
