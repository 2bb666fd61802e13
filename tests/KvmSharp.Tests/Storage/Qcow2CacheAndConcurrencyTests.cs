using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>The L2 cache, reuse of freed clusters, and many requests at once without one lock for all.</summary>
public sealed class Qcow2CacheAndConcurrencyTests : IDisposable
{
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void ReadsOfMappedClustersCostOnePreadEach()
    {
        string image = _scratch.PathOf("cached.qcow2");
        Qcow2Creator.Create(image, 8 << 20, clusterBits: 12);
        RecordingImageFile? file = null;
        using var disk = Qcow2Image.Open(image, readOnly: false, 0, h => file = new RecordingImageFile(h));
        var data = StorageScratch.Pattern(1 << 20, 5);
        disk.Write(0, data);
        disk.Flush();
        var block = new byte[4096];
        disk.Read(0, block);   // the table may be loaded once
        int before = file!.Reads;
        for (int i = 0; i < 200; i++) disk.Read(i * 4096L, block);
        Assert.Equal(200, file.Reads - before);
        Assert.Equal(data.AsSpan(199 * 4096, 4096).ToArray(), block);
    }

    [Fact]
    public void FreedClustersAreReusedBeforeTheFileGrows()
    {
        string image = _scratch.PathOf("reuse.qcow2");
        Qcow2Creator.Create(image, 4 << 20, clusterBits: 12);
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            disk.Write(0, StorageScratch.Pattern(1 << 20, 1));
            disk.Flush();
            disk.Discard(0, 1 << 20);
            disk.Flush();
            long length = new FileInfo(image).Length;
            disk.Write(1 << 20, StorageScratch.Pattern(1 << 20, 2));   // same L2 table (2 MiB each): only data clusters needed
            disk.Flush();
            Assert.Equal(length, new FileInfo(image).Length);
        }
        _scratch.AssertQemuCheckClean(image);
        var expected = new byte[4 << 20];
        StorageScratch.Pattern(1 << 20, 2).CopyTo(expected, 1 << 20);
        Assert.Equal(expected, _scratch.QemuRawBytes(image));
        // Freed in one session, found again in the next by scanning the refcounts.
        using (var disk = Qcow2Image.Open(image, readOnly: false)) disk.Discard(1 << 20, 512 << 10);
        long freedLength = new FileInfo(image).Length;
        using (var disk = Qcow2Image.Open(image, readOnly: false)) disk.Write(0, StorageScratch.Pattern(512 << 10, 3));
        Assert.Equal(freedLength, new FileInfo(image).Length);
        _scratch.AssertQemuCheckClean(image);
    }

    [Fact]
    public void ConcurrentReadersWritersAndFlushesKeepEveryByte()
    {
        // 512-byte clusters: 32 KiB per L2 table, 256 tables, far more than the cache holds, so tables are loaded,
        // evicted and written back while other threads read.
        const int stripe = 1 << 20, writers = 3;
        string image = _scratch.PathOf("busy.qcow2");
        Qcow2Creator.Create(image, (writers + 1) * (long)stripe, clusterBits: 9);
        var fixedData = StorageScratch.Pattern(stripe, 9);
        var models = new byte[writers][];
        using (var disk = Qcow2Image.Open(image, readOnly: false))
        {
            disk.Write(writers * (long)stripe, fixedData);
            var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
            var tasks = new List<Task>();
            for (int w = 0; w < writers; w++)
            {
                int id = w;
                tasks.Add(Task.Run(() =>
                {
                    var model = models[id] = new byte[stripe];
                    var random = new Random(id);
                    for (int i = 0; i < 400; i++)
                    {
                        int at = random.Next(stripe / 512 - 16) * 512, length = 512 * (1 + random.Next(16));
                        if (random.Next(12) == 0)
                        {
                            at &= ~4095;
                            length = 4096;
                            disk.Discard((long)id * stripe + at, length);
                            model.AsSpan(at, length).Clear();
                            continue;
                        }
                        var data = new byte[length];
                        random.NextBytes(data);
                        disk.Write((long)id * stripe + at, data);
                        data.CopyTo(model, at);
                        if (random.Next(40) == 0) disk.Flush();
                    }
                }, TestContext.Current.CancellationToken));
            }
            for (int r = 0; r < 3; r++)
            {
                int id = r;
                tasks.Add(Task.Run(() =>
                {
                    var random = new Random(100 + id);
                    var buffer = new byte[8192];
                    for (int i = 0; i < 600; i++)
                    {
                        int at = random.Next((stripe - buffer.Length) / 512) * 512;
                        disk.Read(writers * (long)stripe + at, buffer);
                        if (!buffer.AsSpan().SequenceEqual(fixedData.AsSpan(at, buffer.Length))) failures.Enqueue($"read at {at} saw other bytes");
                    }
                }, TestContext.Current.CancellationToken));
            }
            Task.WaitAll([.. tasks]);
            Assert.Empty(failures);
            for (int w = 0; w < writers; w++)
            {
                var got = new byte[stripe];
                disk.Read((long)w * stripe, got);
                Assert.True(models[w].AsSpan().SequenceEqual(got), $"writer {w}'s stripe differs");
            }
        }
        var check = Qcow2Check.Run(image);
        Assert.Equal(0, check.Corruptions + check.Leaks);
        _scratch.AssertQemuCheckClean(image);
    }

    [Fact]
    public void AFullDiskFailsTheRequestAndLeavesTheImageConsistent()
    {
        string image = _scratch.PathOf("full.qcow2");
        Qcow2Creator.Create(image, 4 << 20, clusterBits: 12);
        var first = StorageScratch.Pattern(64 << 10, 4);
        RecordingImageFile? file = null;
        using (var disk = Qcow2Image.Open(image, readOnly: false, 0, h => file = new RecordingImageFile(h)))
        {
            disk.Write(0, first);
            disk.Flush();
            file!.SpaceLimit = file.Length;
            // A new cluster in a mapped table, then one that needs a new L2 table: both fail as I/O errors.
            Assert.Throws<IOException>(() => disk.Write(128 << 10, new byte[4096]));
            Assert.Throws<IOException>(() => disk.Write(3 << 20, new byte[4096]));
            Assert.ThrowsAny<IOException>(disk.Flush);   // the new table cannot be written either
            disk.Write(4096, new byte[] { 42 });           // in place: no space needed
            // The file as it is while the disk is full (read through the image's own handle: it holds the lock).
            var now = new byte[file.Length];
            RandomAccess.Read(file.Handle, now, 0);
            string copy = _scratch.PathOf("full-now.qcow2");
            File.WriteAllBytes(copy, now);
            var check = Qcow2Check.Run(copy);
            Assert.True(check.Corruptions == 0, string.Join("; ", check.Problems));
            file.SpaceLimit = null;                          // space again
            disk.Flush();
            disk.Write(128 << 10, new byte[] { 7 });
        }
        first[4096] = 42;
        var expected = new byte[4 << 20];
        first.CopyTo(expected, 0);
        expected[128 << 10] = 7;
        var (code, stdout, _) = _scratch.QemuImg("check", "-f", "qcow2", image);
        Assert.True(code is 0 or 3, stdout);   // leaks at most
        Assert.Equal(expected, _scratch.QemuRawBytes(image));
    }
}
