using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>Growing a closed qcow2 image's virtual size, judged by qemu-img: the image checks clean and reads as before plus zeros.</summary>
public sealed class Qcow2ResizeTests : IDisposable
{
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void GrowingInsideTheL1TableOnlyChangesTheSize()
    {
        string image = _scratch.PathOf("small.qcow2");
        var data = StorageScratch.Pattern(1 << 20, 3);
        _scratch.QemuQcow2From(data, image);
        Qcow2Resize.Grow(image, 3L << 30);
        Assert.Contains("\"virtual-size\": 3221225472", _scratch.QemuImgOk("info", "--output=json", image));
        _scratch.AssertQemuCheckClean(image);
        AssertQemuReadsAsBeforePlusZeros(data, image);
    }

    /// <summary>qemu-img compare: the image holds <paramref name="data"/> and, past it, only zeros (its non-strict mode).</summary>
    private void AssertQemuReadsAsBeforePlusZeros(byte[] data, string image)
    {
        string raw = _scratch.PathOf($"expected-{Guid.NewGuid():N}.raw");
        File.WriteAllBytes(raw, data);
        _scratch.QemuImgOk("compare", "-f", "raw", "-F", "qcow2", raw, image);
    }

    [Fact]
    public void GrowingPastTheL1TablesClustersMovesTheTableAndCountsItsClusters()
    {
        // 512-byte clusters: one L1 entry maps 32 KiB and one L1 cluster 2 MiB, and one refcount block counts 128 KiB of
        // file, so growing 1 MiB to 64 MiB writes a new 32-cluster table past the end, counted in a new refcount block.
        string image = _scratch.PathOf("tiny-clusters.qcow2");
        var data = StorageScratch.Pattern(1 << 20, 5);
        _scratch.QemuQcow2From(data, image, "-o", "cluster_size=512");
        long before = new FileInfo(image).Length;
        Qcow2Resize.Grow(image, 64L << 20);
        Assert.True(new FileInfo(image).Length > before, "the L1 table did not move");
        _scratch.AssertQemuCheckClean(image);
        Assert.Contains("\"virtual-size\": 67108864", _scratch.QemuImgOk("info", "--output=json", image));
        AssertQemuReadsAsBeforePlusZeros(data, image);
        // qemu itself can use the new space: a write at the far end reads back and the image stays clean.
        _scratch.QemuImgOk("resize", "-f", "qcow2", image, "65M");
        _scratch.AssertQemuCheckClean(image);
    }

    [Fact]
    public void OurOwnImagesGrowPastFourTebibytesAndStayClean()
    {
        string image = _scratch.PathOf("ours.qcow2");
        Qcow2Creator.Create(image, 1 << 30);
        Qcow2Resize.Grow(image, 5L << 40);   // past the 4 TiB one 64 KiB L1 cluster maps
        Assert.Contains("\"virtual-size\": 5497558138880", _scratch.QemuImgOk("info", "--output=json", image));
        _scratch.AssertQemuCheckClean(image);
    }

    [Fact]
    public void ShrinkingAndAnImageInUseAreRefusedAndChangeNothing()
    {
        string image = _scratch.PathOf("kept.qcow2");
        Qcow2Creator.Create(image, 1 << 30);
        byte[] before = File.ReadAllBytes(image);
        Assert.Throws<ArgumentOutOfRangeException>(() => Qcow2Resize.Grow(image, 1 << 20));
        using (File.Open(image, FileMode.Open, FileAccess.ReadWrite, FileShare.None))   // as a running VMM holds it
            Assert.Throws<IOException>(() => Qcow2Resize.Grow(image, 2L << 30));
        Assert.Equal(before, File.ReadAllBytes(image));
    }
}
