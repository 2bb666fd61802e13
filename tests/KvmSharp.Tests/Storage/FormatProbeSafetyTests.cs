using System.Buffers.Binary;
using System.Text;
using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>
/// A guest must not turn its raw disk into an image that names a host file: the qcow2 header a guest writes through
/// the block device into a raw disk started without a format is refused (the device answers VIRTIO_BLK_S_IOERR for a
/// <see cref="BlockRequestException"/>), and backing files are probed only as raw.
/// </summary>
public sealed class FormatProbeSafetyTests : IDisposable
{
    private const string Secret = "host secret: the guest must never read this";
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    /// <summary>The bytes of a qcow2 image whose backing file is a host file holding <see cref="Secret"/>.</summary>
    private byte[] HostileQcow2()
    {
        string secret = _scratch.PathOf("secret.txt");
        File.WriteAllText(secret, Secret.PadRight(4096, '.'));
        string forged = _scratch.PathOf("forged.qcow2");
        Qcow2Creator.Create(forged, 4096, clusterBits: 12, backingFile: secret);
        return File.ReadAllBytes(forged);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("raw")]
    public void AQcow2HeaderWrittenIntoARawDiskIsRefusedAndExposesNothing(string? format)
    {
        string disk = _scratch.PathOf("guest.raw");
        File.WriteAllBytes(disk, new byte[1 << 20]);
        byte[] forged = HostileQcow2();
        using (var backend = DiskImage.Open(disk, format, readOnly: false))
        {
            Assert.IsType<RawImage>(backend);
            Assert.Throws<BlockRequestException>(() => backend.Write(0, forged));
            // Byte by byte, as a guest splitting the magic over two requests would.
            backend.Write(0, forged.AsSpan(0, 3));
            Assert.Throws<BlockRequestException>(() => backend.Write(3, forged.AsSpan(3, 509)));
            // The rest of the disk, and plain data in sector 0 (a partition table), are the guest's to write.
            backend.Write(4096, forged);
            backend.Write(0, "\x55\xAA boot sector"u8);
        }
        Assert.Equal("raw", DiskImage.Probe(disk));
        using var reopened = DiskImage.Open(disk, null, readOnly: true);
        Assert.IsType<RawImage>(reopened);
        var all = StorageScratch.ReadAll(reopened);
        Assert.DoesNotContain(Secret, Encoding.ASCII.GetString(all));
    }

    [Fact]
    public void OtherFormatsThatNameHostFilesAreRefusedToo()
    {
        string disk = _scratch.PathOf("guest.raw");
        File.WriteAllBytes(disk, new byte[64 << 10]);
        using var backend = DiskImage.Open(disk, null, readOnly: false);
        foreach (var header in new[] { "KDMV\x01\0\0\0"u8.ToArray(), "# Disk DescriptorFile\n"u8.ToArray(), "QED\0\0\0\0\0"u8.ToArray(), "vhdxfile"u8.ToArray() })
            Assert.Throws<BlockRequestException>(() => backend.Write(0, header));
    }

    [Fact]
    public void ABackingFileWithoutADeclaredFormatIsOpenedOnlyIfItProbesAsRaw()
    {
        // base.img was some VM's raw disk whose guest wrote a qcow2 header naming a host file (before this guard, or
        // by a tool); the overlay names it without a backing format, so its format would be probed.
        string base_ = _scratch.PathOf("base.img");
        File.WriteAllBytes(base_, new byte[64 << 10]);
        string overlay = _scratch.PathOf("overlay.qcow2");
        Qcow2Creator.Create(overlay, 64 << 10, clusterBits: 12, backingFile: "base.img");
        DropBackingFormat(overlay);
        using (var plain = Qcow2Image.Open(overlay, readOnly: true)) Assert.Equal(new byte[4096], ReadFirst(plain));

        var forged = HostileQcow2();
        File.WriteAllBytes(base_, forged);
        var refused = Assert.Throws<ImageFormatException>(() => Qcow2Image.Open(overlay, readOnly: true));
        Assert.Contains("does not declare the backing format", refused.Message);
    }

    private static byte[] ReadFirst(IBlockBackend disk)
    {
        var bytes = new byte[4096];
        disk.Read(0, bytes);
        return bytes;
    }

    /// <summary>Turns the backing-format header extension into the end-of-extensions marker (qcow2.txt, "Header extensions").</summary>
    private static void DropBackingFormat(string image)
    {
        byte[] bytes = File.ReadAllBytes(image);
        int headerLength = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(100));
        Assert.Equal(0xE2792ACAu, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(headerLength)));
        bytes.AsSpan(headerLength, 8).Clear();
        File.WriteAllBytes(image, bytes);
    }
}
