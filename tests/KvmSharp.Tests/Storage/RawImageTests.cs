using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

public sealed class RawImageTests : IDisposable
{
    private readonly StorageScratch _scratch = new();
    private readonly string _path;
    private readonly byte[] _initial = StorageScratch.Pattern(256 * 1024, 3);

    public RawImageTests()
    {
        _path = _scratch.PathOf("disk.raw");
        File.WriteAllBytes(_path, _initial);
    }

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void ReadsWhatTheFileHolds()
    {
        using var disk = new RawImage(_path, readOnly: true);
        Assert.Equal(_initial.Length, disk.Size);
        Assert.True(disk.ReadOnly);
        Assert.Equal(_initial, StorageScratch.ReadAll(disk));
    }

    [Fact]
    public void WritesZeroesAndDiscardsReachTheFile()
    {
        var expected = (byte[])_initial.Clone();
        using (var disk = new RawImage(_path, readOnly: false))
        {
            byte[] data = StorageScratch.Pattern(10_000, 9);
            disk.Write(12_345, data);
            data.CopyTo(expected, 12_345);
            disk.WriteZeroes(100_000, 70_001);
            expected.AsSpan(100_000, 70_001).Clear();
            disk.Discard(200_000, 4096); // advisory: contents of the range no longer matter
            disk.Read(200_000, expected.AsSpan(200_000, 4096));
            disk.Flush();
            Assert.Equal(expected, StorageScratch.ReadAll(disk));
        }
        Assert.Equal(expected, File.ReadAllBytes(_path));
    }

    [Fact]
    public void ReadOnlyDiskRefusesEveryChange()
    {
        using var disk = new RawImage(_path, readOnly: true);
        Assert.Throws<BlockRequestException>(() => disk.Write(0, new byte[512]));
        Assert.Throws<BlockRequestException>(() => disk.WriteZeroes(0, 512));
        Assert.Throws<BlockRequestException>(() => disk.Discard(0, 512));
        disk.Flush();
        Assert.Equal(_initial, File.ReadAllBytes(_path));
    }

    [Theory]
    [InlineData(-1L, 1)]
    [InlineData(256L * 1024 - 511, 512)]
    [InlineData(256L * 1024 + 1, 0)]
    [InlineData(long.MaxValue, 512)]
    public void RequestsOutsideTheDiskAreErrors(long offset, int length)
    {
        using (var disk = new RawImage(_path, readOnly: false))
        {
            Assert.Throws<BlockRequestException>(() => disk.Read(offset, new byte[length]));
            Assert.Throws<BlockRequestException>(() => disk.Write(offset, new byte[length]));
            Assert.Throws<BlockRequestException>(() => disk.WriteZeroes(offset, length));
            Assert.Throws<BlockRequestException>(() => disk.Discard(offset, length));
            Assert.Throws<BlockRequestException>(() => disk.WriteZeroes(0, long.MaxValue));
        }
        Assert.Equal(_initial, File.ReadAllBytes(_path));
    }
}
