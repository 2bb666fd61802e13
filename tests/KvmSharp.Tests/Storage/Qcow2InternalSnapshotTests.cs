using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>
/// Internal snapshots against qemu-img: the snapshots we take are the ones qemu-img lists and reverts to, the ones it
/// takes we revert to and write around, and after every step both its check and ours find the refcounts exact.
/// </summary>
public sealed class Qcow2InternalSnapshotTests : IDisposable
{
    private const int Size = 6 << 20;
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Theory]
    [InlineData(16)]
    [InlineData(12)]
    public void SnapshotsWeTakeAreQemusToListRevertAndDelete(int clusterBits)
    {
        string image = _scratch.PathOf("ours.qcow2");
        Qcow2Creator.Create(image, Size, clusterBits);
        var first = new byte[Size];
        var second = new byte[Size];
        var third = new byte[Size];
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            Qcow2QemuInteropTests.WriteRandomly(disk, first, seed: 1);
            disk.CreateSnapshot("first");
            first.CopyTo(second, 0);
            Qcow2QemuInteropTests.WriteRandomly(disk, second, seed: 2);
            disk.CreateSnapshot("second");
            second.CopyTo(third, 0);
            Qcow2QemuInteropTests.WriteRandomly(disk, third, seed: 3);
            Assert.Equal(["first", "second"], disk.Snapshots.Select(s => s.Name));
        }
        AssertBothChecksClean(image);
        Assert.Equal(third, _scratch.QemuRawBytes(image));
        string listing = _scratch.QemuImgOk("snapshot", "-l", image);
        Assert.Contains("first", listing);
        Assert.Contains("second", listing);

        // qemu-img itself goes back to our snapshot and finds the disk as it was.
        string qemusCopy = _scratch.PathOf("qemus-copy.qcow2");
        File.Copy(image, qemusCopy);
        _scratch.QemuImgOk("snapshot", "-a", "first", qemusCopy);
        _scratch.AssertQemuAgrees(qemusCopy, first);

        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            disk.RevertToSnapshot("first");
            Assert.Equal(first, StorageScratch.ReadAll(disk));
            // Writing after a revert copies what the snapshots still share: they keep their contents.
            var changed = (byte[])first.Clone();
            Qcow2QemuInteropTests.WriteRandomly(disk, changed, seed: 4);
            disk.RevertToSnapshot("second");
            Assert.Equal(second, StorageScratch.ReadAll(disk));
        }
        _scratch.AssertQemuAgrees(image, second);

        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            disk.DeleteSnapshot("first");
            disk.RevertToSnapshot("second");
            Assert.Equal(second, StorageScratch.ReadAll(disk));
        }
        AssertBothChecksClean(image);
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            disk.DeleteSnapshot("second");
            Assert.Empty(disk.Snapshots);
        }
        _scratch.AssertQemuAgrees(image, second);
        Assert.DoesNotContain("second", _scratch.QemuImgOk("snapshot", "-l", image));
    }

    [Fact]
    public void SnapshotsQemuTakesWeRevertToAndWriteAround()
    {
        // Compressed clusters too: a snapshot shares them like any other, and a write copies them out.
        byte[] original = StorageScratch.Pattern(Size, 7);
        string image = _scratch.PathOf("qemus.qcow2");
        _scratch.QemuQcow2From(original, image, "-c");
        _scratch.QemuImgOk("snapshot", "-c", "before", image);
        var changed = (byte[])original.Clone();
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            Assert.Equal("before", Assert.Single(disk.Snapshots).Name);
            Qcow2QemuInteropTests.WriteRandomly(disk, changed, seed: 8);
        }
        AssertBothChecksClean(image);
        Assert.Equal(changed, _scratch.QemuRawBytes(image));
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            disk.RevertToSnapshot("before");
            Assert.Equal(original, StorageScratch.ReadAll(disk));
        }
        _scratch.AssertQemuAgrees(image, original);
    }

    [Fact]
    public void RefusalsNameTheSnapshotAndChangeNothing()
    {
        string image = _scratch.PathOf("refusals.qcow2");
        Qcow2Creator.Create(image, Size);
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            disk.CreateSnapshot("taken");
            Assert.Contains("already has a snapshot named 'taken'", Assert.Throws<DiskSnapshotException>(() => disk.CreateSnapshot("taken")).Message);
            Assert.Contains("no snapshot named 'missing'", Assert.Throws<DiskSnapshotException>(() => disk.RevertToSnapshot("missing")).Message);
            Assert.Contains("no snapshot named 'missing'", Assert.Throws<DiskSnapshotException>(() => disk.DeleteSnapshot("missing")).Message);
            Assert.Throws<DiskSnapshotException>(() => disk.CreateSnapshot(""));
            Assert.Single(disk.Snapshots);
        }
        using (var readOnly = Qcow2Image.Open(image, readOnly: true))
        {
            Assert.Equal("taken", Assert.Single(readOnly.Snapshots).Name);
            Assert.ThrowsAny<Exception>(() => readOnly.CreateSnapshot("other"));
        }
        AssertBothChecksClean(image);
    }

    [Fact]
    public void ASnapshotTableThatRunsPastTheFileIsRefusedInOneLine()
    {
        string image = _scratch.PathOf("bad-table.qcow2");
        Qcow2Creator.Create(image, Size);
        using (var disk = Qcow2Image.Open(image, readOnly: false)) disk.CreateSnapshot("s");
        // The snapshot's L1 size field (entry bytes 8-11) claims far more entries than the file holds.
        long table;
        using (var file = File.OpenHandle(image))
        {
            var field = new byte[8];
            RandomAccess.Read(file, field, 64);
            table = (long)System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(field);
        }
        using (var file = File.OpenHandle(image, FileMode.Open, FileAccess.Write))
            RandomAccess.Write(file, new byte[] { 0, 0x10, 0, 0 }, table + 8);
        var e = Assert.Throws<ImageFormatException>(() => Qcow2Image.Open(image, readOnly: true));
        Assert.Contains("L1 table", e.Message);
    }

    private void AssertBothChecksClean(string image)
    {
        _scratch.AssertQemuCheckClean(image);
        var ours = Qcow2Check.Run(image);
        Assert.True(ours.Corruptions == 0 && ours.Leaks == 0, string.Join("; ", ours.Problems));
    }
}
