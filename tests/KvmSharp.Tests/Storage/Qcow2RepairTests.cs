using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>image check --repair: leaked clusters (a crash between a refcount and the table naming it) given back.</summary>
public sealed class Qcow2RepairTests : IDisposable
{
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void RepairGivesLeakedClustersBackAndQemuImgAgrees()
    {
        string image = _scratch.PathOf("leaky.qcow2");
        Qcow2Creator.Create(image, 1 << 20, clusterBits: 12);
        var data = StorageScratch.Pattern(256 << 10, 6);
        // A process crash after the data and refcounts reached the file but before the L2 table did: the file as
        // the recorder saw it up to the first fdatasync of the flush.
        RecordingImageFile? file = null;
        byte[] initial = File.ReadAllBytes(image);
        using (var disk = Qcow2Image.Open(image, readOnly: false, 0, h => file = new RecordingImageFile(h)))
        {
            disk.Write(0, data);
            disk.Flush();
        }
        var crashed = new List<byte>(initial);
        file!.Apply(crashed, 0, file.Log.IndexOf(null));
        File.WriteAllBytes(image, [.. crashed]);
        var before = Qcow2Check.Run(image);
        Assert.Equal(0, before.Corruptions);
        Assert.True(before.Leaks >= 64, $"expected the data clusters to leak, found {before.Leaks}");
        Assert.Equal(3, _scratch.QemuImg("check", "-f", "qcow2", image).Code);   // qemu-img: leaks only

        var (after, repaired) = Qcow2Check.RepairLeaks(image);
        Assert.Equal(before.Leaks, repaired);
        Assert.Equal(0, after.Corruptions + after.Leaks);
        _scratch.AssertQemuCheckClean(image);
        // The image works afterwards: a write reuses the clusters the repair freed.
        long length = new FileInfo(image).Length;
        using (var disk = Qcow2Image.Open(image, readOnly: false)) disk.Write(0, data);
        Assert.Equal(length, new FileInfo(image).Length);
        _scratch.AssertQemuCheckClean(image);
    }
}
