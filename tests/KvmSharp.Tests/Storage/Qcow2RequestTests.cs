using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>Guest requests a qcow2 disk must refuse without touching the image.</summary>
public sealed class Qcow2RequestTests : IDisposable
{
    private const int Size = 1 << 20;
    private readonly StorageScratch _scratch = new();
    private readonly string _path;

    public Qcow2RequestTests()
    {
        _path = _scratch.PathOf("disk.qcow2");
        Qcow2Creator.Create(_path, Size, clusterBits: 12);
    }

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void ReadOnlyImageRefusesEveryChange()
    {
        byte[] before = File.ReadAllBytes(_path);
        using (var disk = Qcow2Image.Open(_path, readOnly: true))
        {
            Assert.Throws<BlockRequestException>(() => disk.Write(0, new byte[512]));
            Assert.Throws<BlockRequestException>(() => disk.WriteZeroes(0, 4096));
            Assert.Throws<BlockRequestException>(() => disk.Discard(0, 4096));
            disk.Flush();
        }
        Assert.Equal(before, File.ReadAllBytes(_path));
    }

    [Theory]
    [InlineData(-1L, 1)]
    [InlineData(Size - 511L, 512)]
    [InlineData(Size + 1L, 0)]
    [InlineData(long.MaxValue - 10, 512)]
    public void RequestsOutsideTheDiskAreErrors(long offset, int length)
    {
        byte[] before = File.ReadAllBytes(_path);
        using (var disk = Qcow2Image.Open(_path, readOnly: false))
        {
            Assert.Throws<BlockRequestException>(() => disk.Read(offset, new byte[length]));
            Assert.Throws<BlockRequestException>(() => disk.Write(offset, new byte[length]));
            Assert.Throws<BlockRequestException>(() => disk.WriteZeroes(offset, length));
            Assert.Throws<BlockRequestException>(() => disk.Discard(offset, length));
        }
        Assert.Equal(before, File.ReadAllBytes(_path));
        _scratch.AssertQemuCheckClean(_path);
    }

    [Fact]
    public void CreatorRefusesBadArgumentsAndExistingFiles()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Qcow2Creator.Create(_scratch.PathOf("a.qcow2"), Size, clusterBits: 8));
        Assert.Throws<ArgumentOutOfRangeException>(() => Qcow2Creator.Create(_scratch.PathOf("b.qcow2"), -1));
        Assert.Throws<IOException>(() => Qcow2Creator.Create(_path, Size));
        // What qemu-img reports about an image we made, checked against our own arguments.
        string info = _scratch.QemuImgOk("info", "--output=json", _path);
        Assert.Contains("\"virtual-size\": 1048576", info);
        Assert.Contains("\"cluster-size\": 4096", info);
        Assert.Contains("\"compat\": \"1.1\"", info);
    }
}
