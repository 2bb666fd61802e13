namespace KvmSharp.Storage;

/// <summary>What <c>kvmsharp image info</c> shows about a disk image.</summary>
/// <param name="AllocatedBytes">Bytes of guest data stored in this image (qcow2: its data clusters; raw: the file size).</param>
public sealed record ImageInfo(string Format, long VirtualSize, long FileSize, long? ClusterSize, string? BackingFile, string? BackingFormat, long AllocatedBytes)
{
    /// <summary>Reads the image's metadata without opening it for I/O (and without its backing chain).</summary>
    public static ImageInfo Inspect(string path)
    {
        string format = DiskImage.Probe(path);
        using var file = DiskImage.OpenHandle(path, readOnly: true);
        long length = RandomAccess.GetLength(file);
        if (format == "raw") return new ImageInfo(format, length, length, null, null, null, length);
        var header = Qcow2Header.Read(file, length, path);
        long allocated = header.SnapshotCount == 0 ? Qcow2Check.Run(path).AllocatedDataClusters * header.ClusterSize : 0;
        return new ImageInfo(format, header.Size, length, header.ClusterSize, header.BackingFile, header.BackingFormat, allocated);
    }
}
