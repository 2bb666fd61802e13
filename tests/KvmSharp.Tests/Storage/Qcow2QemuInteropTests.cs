using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>Our qcow2 reader and writer against qemu-img: images qemu makes open here, images we write pass its check.</summary>
public sealed class Qcow2QemuInteropTests : IDisposable
{
    private const int Size = 6 << 20;
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void QemuCreatedEmptyImageReadsAsZeros()
    {
        string image = _scratch.PathOf("empty.qcow2");
        _scratch.QemuImgOk("create", "-f", "qcow2", image, "3M");
        using var disk = Qcow2Image.Open(image, readOnly: true);
        Assert.Equal(3 << 20, disk.Size);
        Assert.Equal(new byte[3 << 20], StorageScratch.ReadAll(disk));
    }

    [Theory]
    [InlineData("65536", false)]
    [InlineData("4096", false)]
    [InlineData("65536", true)]
    [InlineData("4096", true)]
    public void ImagesQemuConvertedReadBackTheSameBytes(string clusterSize, bool compressed)
    {
        byte[] pattern = StorageScratch.Pattern(Size + 1536, 1);
        string image = _scratch.PathOf("pattern.qcow2");
        _scratch.QemuQcow2From(pattern, image, compressed ? ["-c", "-o", $"cluster_size={clusterSize}"] : ["-o", $"cluster_size={clusterSize}"]);

        // The pattern's text-like runs shrink under deflate: a compressed image is well under half the data.
        if (compressed) Assert.True(new FileInfo(image).Length < pattern.Length / 2, "qemu-img did not compress");
        using var disk = Qcow2Image.Open(image, readOnly: true);
        Assert.Equal(pattern, StorageScratch.ReadAll(disk));
        // Unaligned reads across cluster boundaries go through the same mapping.
        var slice = new byte[100_003];
        disk.Read(65_536 - 7, slice);
        Assert.Equal(pattern.AsSpan(65_536 - 7, slice.Length).ToArray(), slice);
    }

    [Fact]
    public void VersionTwoImagesReadAndWrite()
    {
        byte[] expected = StorageScratch.Pattern(Size, 12);
        string image = _scratch.PathOf("v2.qcow2");
        _scratch.QemuQcow2From(expected, image, "-o", "compat=0.10");
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            Assert.Equal(expected, StorageScratch.ReadAll(disk));
            WriteRandomly(disk, expected, seed: 12); // v2 has no zero flag: zeroing writes zero data
        }
        _scratch.AssertQemuAgrees(image, expected);
    }

    [Theory]
    [InlineData(16)]
    [InlineData(12)]
    public void ImagesWeCreateAndWritePassQemuCheck(int clusterBits)
    {
        string image = _scratch.PathOf("ours.qcow2");
        Qcow2Creator.Create(image, Size, clusterBits);
        _scratch.AssertQemuCheckClean(image);
        var expected = new byte[Size];
        using (var disk = Qcow2Image.Open(image, readOnly: false))
            WriteRandomly(disk, expected, seed: clusterBits);
        _scratch.AssertQemuAgrees(image, expected);
        using var reopened = Qcow2Image.Open(image, readOnly: true);
        Assert.Equal(expected, StorageScratch.ReadAll(reopened));
    }

    [Fact]
    public void RefcountTableGrowsWhenTheFileOutgrowsIt()
    {
        // 512-byte clusters: one refcount table cluster covers 64 blocks × 256 clusters = 8 MiB of file.
        const int size = 12 << 20;
        string image = _scratch.PathOf("small-clusters.qcow2");
        Qcow2Creator.Create(image, size, clusterBits: 9);
        byte[] expected = StorageScratch.Pattern(size, 5);
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            for (int at = 0; at < size; at += 1 << 20) disk.Write(at, expected.AsSpan(at, 1 << 20));
        }
        // The table no longer sits in cluster 1 where the creator put it (header bytes 48-55).
        byte[] header = File.ReadAllBytes(image).AsSpan(0, 64).ToArray();
        Assert.NotEqual(512UL, System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(header.AsSpan(48)));
        _scratch.AssertQemuAgrees(image, expected);
    }

    [Fact]
    public void WritesIntoQemuMadeImagesIncludingCompressedClusters()
    {
        byte[] expected = StorageScratch.Pattern(Size, 2);
        string image = _scratch.PathOf("compressed.qcow2");
        _scratch.QemuQcow2From(expected, image, "-c");
        using (var disk = Qcow2Image.Open(image, readOnly: false))
            WriteRandomly(disk, expected, seed: 77);
        _scratch.AssertQemuAgrees(image, expected);
    }

    [Fact]
    public void OverlayOnAReadOnlyRawBaseLeavesTheBaseUntouched()
    {
        byte[] baseBytes = StorageScratch.Pattern(Size, 4);
        string basePath = _scratch.PathOf("base.raw"), overlay = _scratch.PathOf("overlay.qcow2");
        File.WriteAllBytes(basePath, baseBytes);
        new FileInfo(basePath).IsReadOnly = true; // no write permission (root could still write; we open it read-only regardless)
        Qcow2Creator.Create(overlay, Size, backingFile: "base.raw");

        var expected = (byte[])baseBytes.Clone();
        using (var disk = Qcow2Image.Open(overlay, readOnly: false))
        {
            Assert.Equal(baseBytes, StorageScratch.ReadAll(disk));
            WriteRandomly(disk, expected, seed: 8);
            Assert.Equal(expected, StorageScratch.ReadAll(disk));
        }
        Assert.Equal(baseBytes, File.ReadAllBytes(basePath));
        _scratch.AssertQemuAgrees(overlay, expected);
        Assert.Contains("backing file: base.raw", _scratch.QemuImgOk("info", overlay));
    }

    [Fact]
    public void QemuMadeOverlayOnAQcow2BaseCopiesOnWrite()
    {
        byte[] baseBytes = StorageScratch.Pattern(Size, 6);
        string basePath = _scratch.PathOf("base.qcow2"), overlay = _scratch.PathOf("overlay.qcow2");
        _scratch.QemuQcow2From(baseBytes, basePath, "-c");
        _scratch.QemuImgOk("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", overlay);
        byte[] baseFile = File.ReadAllBytes(basePath);

        var expected = (byte[])baseBytes.Clone();
        using (var disk = Qcow2Image.Open(overlay, readOnly: false))
            WriteRandomly(disk, expected, seed: 10);
        Assert.Equal(baseFile, File.ReadAllBytes(basePath));
        _scratch.AssertQemuAgrees(overlay, expected);
    }

    [Fact]
    public void ZeroingAndDiscardHideTheBackingImage()
    {
        byte[] baseBytes = StorageScratch.Pattern(Size, 11);
        string basePath = _scratch.PathOf("base.raw"), overlay = _scratch.PathOf("overlay.qcow2");
        File.WriteAllBytes(basePath, baseBytes);
        Qcow2Creator.Create(overlay, Size, backingFile: basePath);
        var expected = (byte[])baseBytes.Clone();
        using (var disk = Qcow2Image.Open(overlay, readOnly: false))
        {
            disk.Write(0, new byte[] { 1, 2, 3 });
            expected[0] = 1; expected[1] = 2; expected[2] = 3;
            disk.WriteZeroes(0, 3 * 65536 + 100);
            expected.AsSpan(0, 3 * 65536 + 100).Clear();
            disk.Discard(5 * 65536, 2 * 65536);
            expected.AsSpan(5 * 65536, 2 * 65536).Clear(); // our discard of whole clusters reads back zeros
            Assert.Equal(expected, StorageScratch.ReadAll(disk));
        }
        _scratch.AssertQemuAgrees(overlay, expected);
    }

    /// <summary>A seeded mix of writes (unaligned, cluster-crossing, whole-cluster), zeroing and discards, mirrored into <paramref name="expected"/>.</summary>
    internal static void WriteRandomly(IBlockBackend disk, byte[] expected, int seed)
    {
        var random = new Random(seed);
        for (int i = 0; i < 60; i++)
        {
            int length = random.Next(4) switch { 0 => random.Next(1, 600), 1 => 65_536, 2 => random.Next(1, 200_000), _ => 4096 };
            long offset = random.Next(4) == 0 ? random.Next(0, (int)(disk.Size - length)) & ~4095 : random.Next(0, (int)(disk.Size - length));
            switch (random.Next(10))
            {
                case 0:
                    disk.WriteZeroes(offset, length);
                    expected.AsSpan((int)offset, length).Clear();
                    break;
                case 1:
                    disk.Discard(offset, length);
                    disk.Read(offset, expected.AsSpan((int)offset, length)); // discarded contents are the backend's choice
                    break;
                default:
                    var data = new byte[length];
                    random.NextBytes(data);
                    disk.Write(offset, data);
                    data.CopyTo(expected, offset);
                    break;
            }
        }
        disk.Flush();
        Assert.Equal(expected, StorageScratch.ReadAll(disk));
    }
}
