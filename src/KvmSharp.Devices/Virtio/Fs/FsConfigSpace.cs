using System.Buffers.Binary;
using System.Text;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>
/// virtio-fs configuration (virtio 1.2 §5.11.4, <c>struct virtio_fs_config</c>): the tag the guest mounts by (36
/// bytes, NUL-padded, not NUL-terminated when all 36 are used) and le32 num_request_queues. Read-only to the driver.
/// </summary>
internal static class FsConfigSpace
{
    public const int TagSize = 36;
    public const int Size = TagSize + 4;

    public static byte[] Build(string tag, uint requestQueues)
    {
        var config = new byte[Size];
        Encoding.UTF8.GetBytes(tag, config.AsSpan(0, TagSize));
        BinaryPrimitives.WriteUInt32LittleEndian(config.AsSpan(TagSize), requestQueues);
        return config;
    }

    /// <summary>A tag is 1 to 36 bytes of UTF-8 without NUL (the guest compares it byte for byte with mount's source).</summary>
    public static bool IsValidTag(string tag) =>
        tag.Length > 0 && !tag.Contains('\0') && Encoding.UTF8.GetByteCount(tag) <= TagSize;
}
