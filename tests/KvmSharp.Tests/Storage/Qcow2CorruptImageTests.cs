using System.Buffers.Binary;
using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>Hostile or damaged images: every one must give an ImageFormatException, never another exception or a huge allocation.</summary>
public sealed class Qcow2CorruptImageTests : IDisposable
{
    private readonly StorageScratch _scratch = new();
    private readonly string _path;
    private readonly byte[] _good;

    public Qcow2CorruptImageTests()
    {
        _path = _scratch.PathOf("victim.qcow2");
        Qcow2Creator.Create(_path, 1 << 20, clusterBits: 12);
        using (var disk = Qcow2Image.Open(_path, readOnly: false))
            disk.Write(5000, StorageScratch.Pattern(20_000, 1));
        _good = File.ReadAllBytes(_path);
    }

    public void Dispose() => _scratch.Dispose();

    private void Corrupt(Action<byte[]> change)
    {
        var bytes = (byte[])_good.Clone();
        change(bytes);
        File.WriteAllBytes(_path, bytes);
    }

    private static void Put32(byte[] b, int at, uint value) => BinaryPrimitives.WriteUInt32BigEndian(b.AsSpan(at), value);
    private static void Put64(byte[] b, int at, ulong value) => BinaryPrimitives.WriteUInt64BigEndian(b.AsSpan(at), value);

    private string OpenFails(bool readOnly = true)
    {
        var e = Assert.Throws<ImageFormatException>(() =>
        {
            using var disk = Qcow2Image.Open(_path, readOnly);
            StorageScratch.ReadAll(disk);
        });
        return e.Message;
    }

    public static TheoryData<string, int, ulong, int> HeaderFields => new()
    {
        { "magic", 0, 0x514649FA, 4 },
        { "version", 4, 4, 4 },
        { "cluster_bits", 20, 8, 4 },
        { "cluster_bits", 20, 40, 4 },
        { "size", 24, 1UL << 62, 8 },
        { "size", 24, 1UL << 40, 8 },            // L1 table too small for it
        { "crypt_method", 32, 1, 4 },
        { "l1_size", 36, 0xFFFF_FFFF, 4 },
        { "l1_table_offset", 40, 1UL << 40, 8 },  // past EOF
        { "l1_table_offset", 40, 4096 * 3 + 8, 8 }, // unaligned
        { "l1_table_offset", 40, 0, 8 },         // on the header
        { "refcount_table_offset", 48, 1UL << 50, 8 },
        { "refcount_table_clusters", 56, 0x7FFF_FFFF, 4 },
        { "refcount_table_clusters", 56, 0, 4 },
        { "nb_snapshots", 60, 0xFFFF_FFFF, 4 },
        { "incompatible dirty", 72, 1, 8 },
        { "incompatible external data", 72, 4, 8 },
        { "incompatible extended L2", 72, 16, 8 },
        { "incompatible unknown", 72, 1UL << 40, 8 },
        { "refcount_order", 96, 7, 4 },
        { "header_length", 100, 50, 4 },
        { "header_length", 100, 1 << 20, 4 },
    };

    [Theory]
    [MemberData(nameof(HeaderFields))]
    public void BadHeaderFieldsAreRefusedClearly(string field, int offset, ulong value, int width)
    {
        Corrupt(b => { if (width == 4) Put32(b, offset, (uint)value); else Put64(b, offset, value); });
        Assert.Contains(_path, OpenFails());
        Assert.NotEmpty(field);
    }

    [Theory]
    [InlineData(1UL << 40, 10u)] // name outside the first cluster
    [InlineData(4090UL, 10u)]    // name runs off the first cluster
    [InlineData(200UL, 5000u)]   // longer than the 1023 bytes qcow2.txt allows
    [InlineData(200UL, 10u)]     // inside, but zero bytes: not a usable name
    public void BadBackingFileNamesAreRefused(ulong offset, uint length)
    {
        Corrupt(b => { Put64(b, 8, offset); Put32(b, 16, length); });
        OpenFails();
    }

    [Fact]
    public void DirtyImagesNameTheRepair()
    {
        Corrupt(b => Put64(b, 72, 1));
        Assert.Contains("qemu-img check -r all", OpenFails());
    }

    [Fact]
    public void CorruptFlaggedImagesOpenOnlyReadOnly()
    {
        Corrupt(b => Put64(b, 72, 2));
        using (var disk = Qcow2Image.Open(_path, readOnly: true))
            Assert.Equal(1 << 20, disk.Size);
        Assert.Contains("corrupt", OpenFails(readOnly: false));
    }

    [Fact]
    public void ZstdCompressionIsRefused()
    {
        Corrupt(b => { Put64(b, 72, 8); b[104] = 1; });
        Assert.Contains("compression type 1", OpenFails());
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(60)]
    [InlineData(4096 + 100)]
    public void TruncatedFilesAreRefused(int length)
    {
        File.WriteAllBytes(_path, _good.AsSpan(0, length).ToArray());
        OpenFails();
    }

    [Fact]
    public void L2TablePastTheEndIsReportedOnRead()
    {
        // The first L1 entry (L1 table at cluster 3) points the written data's L2 table past EOF.
        Corrupt(b => Put64(b, 3 * 4096, (1UL << 63) | (1UL << 40)));
        Assert.Contains("L2 table", OpenFails());
    }

    [Fact]
    public void DataClusterPastTheEndIsReportedOnRead()
    {
        long l2 = (long)(BinaryPrimitives.ReadUInt64BigEndian(_good.AsSpan(3 * 4096)) & 0x00FF_FFFF_FFFF_FE00UL);
        Corrupt(b => Put64(b, (int)l2 + 8, (1UL << 63) | (1UL << 44)));
        Assert.Contains("data cluster", OpenFails());
    }

    [Fact]
    public void GarbageCompressedClusterIsReportedOnRead()
    {
        long l2 = (long)(BinaryPrimitives.ReadUInt64BigEndian(_good.AsSpan(3 * 4096)) & 0x00FF_FFFF_FFFF_FE00UL);
        // Compressed flag on an entry whose bytes are our uncompressed test pattern: not a deflate stream of a whole cluster.
        Corrupt(b => Put64(b, (int)l2 + 8, BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan((int)l2 + 8)) & 0x00FF_FFFF_FFFF_FE00UL | (1UL << 62) | (7UL << 58)));
        Assert.Contains("compressed cluster", OpenFails());
    }

    [Fact]
    public void MissingBackingFileIsReported()
    {
        string overlay = _scratch.PathOf("overlay.qcow2"), basePath = _scratch.PathOf("base.raw");
        File.WriteAllBytes(basePath, new byte[65536]);
        Qcow2Creator.Create(overlay, 65536, backingFile: "base.raw");
        File.Delete(basePath);
        var e = Assert.Throws<ImageFormatException>(() => Qcow2Image.Open(overlay, readOnly: true));
        Assert.Contains("base.raw", e.Message);
    }

    [Fact]
    public void BackingLoopIsCutOff()
    {
        string a = _scratch.PathOf("a.qcow2"), b = _scratch.PathOf("b.qcow2"), x = _scratch.PathOf("x.qcow2");
        Qcow2Creator.Create(x, 65536);
        Qcow2Creator.Create(a, 65536, backingFile: "x.qcow2");
        Qcow2Creator.Create(b, 65536, backingFile: "a.qcow2");
        File.Copy(b, x, overwrite: true); // a → x (a copy of b) → a → …
        Assert.Contains("backing chain", Assert.Throws<ImageFormatException>(() => Qcow2Image.Open(a, readOnly: true)).Message);
    }

    [Fact]
    public void RandomlyDamagedHeadersNeverEscapeAsOtherExceptions()
    {
        var random = new Random(2024);
        for (int round = 0; round < 300; round++)
        {
            Corrupt(b =>
            {
                for (int flips = random.Next(1, 4); flips > 0; flips--)
                    b[random.Next(0, 120)] ^= (byte)(1 << random.Next(8));
            });
            try
            {
                using var disk = Qcow2Image.Open(_path, readOnly: random.Next(2) == 0);
                var buffer = new byte[8192];
                disk.Read(0, buffer.AsSpan(0, (int)Math.Min(buffer.Length, disk.Size)));
                if (disk.Size > 3 * 4096) disk.Read(disk.Size - 4096, buffer.AsSpan(0, 4096));
                if (!disk.ReadOnly && disk.Size > 70_000) disk.Write(66_000, buffer.AsSpan(0, 3000));
            }
            catch (ImageFormatException) { }
        }
    }
}
