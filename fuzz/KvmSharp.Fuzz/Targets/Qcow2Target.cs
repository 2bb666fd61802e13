using KvmSharp.Storage;

namespace KvmSharp.Fuzz.Targets;

/// <summary>
/// A qcow2 file (header, extensions, L1/L2 and refcount tables, snapshot table) opened the ways the product opens
/// one: ImageInfo.Inspect (the daemon's vol-info), DiskImage.Open read-write (a VM's disk) with reads, writes,
/// zeroes, discards, a flush and an internal snapshot, then Qcow2Check. Expected: ImageFormatException,
/// BlockRequestException and DiskSnapshotException (the storage layer's own IOExceptions).
/// </summary>
public sealed class Qcow2Target : FuzzTarget
{
    public override string Name => "qcow2";
    public override string Description => "qcow2 header and tables: open, read, write, snapshot, check (Storage Qcow2Image, ImageInfo, Qcow2Check)";
    public override bool IsExpected(Exception exception) => exception is ImageFormatException or BlockRequestException or DiskSnapshotException;

    public override void Run(ReadOnlySpan<byte> input)
    {
        string path = Scratch.PathOf("image.qcow2");
        using (var file = File.Create(path)) file.Write(input);
        ImageInfo.Inspect(path);
        using (var image = DiskImage.Open(path, "qcow2", readOnly: false))
        {
            var buffer = new byte[4096];
            long size = image.Size;
            foreach (long at in new[] { 0, size / 2 & ~4095L, size - 4096 })
            {
                if (at < 0 || at + buffer.Length > size) continue;
                image.Read(at, buffer);
                buffer[0] ^= 0x5A;
                image.Write(at, buffer);
            }
            if (size >= 64 << 10)
            {
                image.WriteZeroes(8192, 8192);
                image.Discard(16384, 16384);
            }
            image.Flush();
            if (image is Qcow2Image qcow2 && qcow2.Snapshots.Count < 4) qcow2.CreateSnapshot($"fuzz{qcow2.Snapshots.Count}");
        }
        Qcow2Check.Run(path);
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        yield return new("empty-512b-clusters", Make(1 << 20, 9, _ => { }));
        yield return new("data-and-snapshot", Make(1 << 20, 9, image =>
        {
            image.Write(0, new byte[1024]);
            image.Write(512 << 10, Enumerable.Range(0, 512).Select(i => (byte)i).ToArray());
            image.CreateSnapshot("s1");
            image.Write(0, new byte[512]);
        }));
    }

    private static byte[] Make(long size, int clusterBits, Action<Qcow2Image> fill)
    {
        string path = Scratch.PathOf("seed.qcow2");
        File.Delete(path);
        Qcow2Creator.Create(path, size, clusterBits);
        using (var image = Qcow2Image.Open(path, readOnly: false)) fill(image);
        return File.ReadAllBytes(path);
    }
}
