using System.Buffers.Binary;
using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>Our refcount check and image info against images qemu-img made or judged.</summary>
public sealed class Qcow2CheckTests : IDisposable
{
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void ImagesQemuWroteCheckClean()
    {
        string image = _scratch.PathOf("qemu.qcow2");
        _scratch.QemuQcow2From(StorageScratch.Pattern(3 << 20, 2), image, "-c", "-o", "cluster_size=4096");   // compressed clusters too
        _scratch.AssertQemuCheckClean(image);
        var result = Qcow2Check.Run(image);
        Assert.Equal(0, result.Corruptions + result.Leaks);
        Assert.Empty(result.Problems);
    }

    [Fact]
    public void InfoOnAQemuCreatedImageReportsItsSizeAndClusters()
    {
        string image = _scratch.PathOf("sized.qcow2");
        _scratch.QemuImgOk("create", "-f", "qcow2", "-o", "cluster_size=16384", image, "5G");
        var info = ImageInfo.Inspect(image);
        Assert.Equal("qcow2", info.Format);
        Assert.Equal(5L << 30, info.VirtualSize);
        Assert.Equal(16384, info.ClusterSize);
        Assert.Null(info.BackingFile);
        Assert.Equal(0, info.AllocatedBytes);
    }

    [Fact]
    public void InfoCountsDataClustersAndNamesTheBackingFile()
    {
        string base_ = _scratch.PathOf("base.raw");
        File.WriteAllBytes(base_, new byte[1 << 20]);
        string overlay = _scratch.PathOf("overlay.qcow2");
        Qcow2Creator.Create(overlay, 1 << 20, backingFile: "base.raw");
        using (var disk = Qcow2Image.Open(overlay, readOnly: false))
            disk.Write(70_000, new byte[] { 1, 2, 3 });   // one 64 KiB cluster
        var info = ImageInfo.Inspect(overlay);
        Assert.Equal("base.raw", info.BackingFile);
        Assert.Equal("raw", info.BackingFormat);
        Assert.Equal(65536, info.AllocatedBytes);
        // qemu-img agrees on the size and the backing file.
        string qemu = _scratch.QemuImgOk("info", "--output=json", overlay);
        Assert.Contains("\"virtual-size\": 1048576", qemu);
        Assert.Contains("\"backing-filename\": \"base.raw\"", qemu);
    }

    [Fact]
    public void AClusterWithTooLowARefcountIsACorruptionAndAnExtraOneALeak()
    {
        string image = _scratch.PathOf("broken.qcow2");
        Qcow2Creator.Create(image, 1 << 20);
        using (var disk = Qcow2Image.Open(image, readOnly: false))
            disk.Write(0, new byte[512]);
        // Qcow2Creator's layout: refcount block at cluster 2 with 16-bit entries. Zero the header's refcount
        // (cluster 0 then has a reference but refcount 0) and give cluster 4 (the L2 table or the data, each
        // referenced once) a refcount of 2.
        const int cluster = 65536;
        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.ReadWrite))
        {
            RandomAccess.Write(file, new byte[2], 2L * cluster);
            var two = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(two, 2);
            RandomAccess.Write(file, two, 2L * cluster + 2 * 4);
        }
        Assert.NotEqual(0, _scratch.QemuImg("check", "-f", "qcow2", image).Code);   // qemu finds it broken too
        var result = Qcow2Check.Run(image);
        Assert.Equal(1, result.Corruptions);
        Assert.Equal(1, result.Leaks);
    }
}
