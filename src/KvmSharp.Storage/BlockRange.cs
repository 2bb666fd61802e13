namespace KvmSharp.Storage;

/// <summary>Range checks shared by every backend: guest-supplied offsets and lengths are hostile.</summary>
internal static class BlockRange
{
    public static void Check(long offset, long length, long size)
    {
        // Written so that no sum can overflow: offset and length are each bounded by size first.
        if (offset < 0 || length < 0 || offset > size || length > size - offset)
            throw new BlockRequestException($"request at {offset} of {length} bytes is outside the {size}-byte disk");
    }

    public static void CheckWritable(bool readOnly)
    {
        if (readOnly) throw new BlockRequestException("the disk is read-only");
    }
}
