using KvmSharp.Storage;

namespace KvmSharp.Tests.Storage;

/// <summary>
/// A writable image is locked against a second writer; live migration hands it over: the source flushes and
/// unlocks, the destination opens it, and a handover that did not happen is taken back.
/// </summary>
public sealed class ImageLockHandoverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-lock").FullName;

    [Theory]
    [InlineData("raw")]
    [InlineData("qcow2")]
    public void AReleasedImageOpensElsewhereAndComesBackWhenFree(string format)
    {
        string path = Path.Combine(_dir, $"disk.{format}");
        if (format == "raw") File.WriteAllBytes(path, new byte[1 << 20]);
        else Qcow2Creator.Create(path, 1 << 20);

        using var source = DiskImage.Open(path, format, readOnly: false);
        source.Write(0, "handed over"u8);
        Assert.Throws<ImageFormatException>(() => DiskImage.Open(path, format, readOnly: false).Dispose());

        source.ReleaseLock();
        using (var destination = DiskImage.Open(path, format, readOnly: false))
        {
            var read = new byte[11];
            destination.Read(0, read);
            Assert.Equal("handed over"u8.ToArray(), read);
            // While the destination holds it, the source cannot take it back.
            Assert.Throws<IOException>(source.ReacquireLock);
        }

        source.ReacquireLock();
        Assert.Throws<ImageFormatException>(() => DiskImage.Open(path, format, readOnly: false).Dispose());
    }

    [Fact]
    public void AReadOnlyImageHasNothingToHandOver()
    {
        string path = Path.Combine(_dir, "ro.raw");
        File.WriteAllBytes(path, new byte[4096]);
        using var first = DiskImage.Open(path, "raw", readOnly: true);
        first.ReleaseLock();
        using var second = DiskImage.Open(path, "raw", readOnly: true);
        first.ReacquireLock();
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
