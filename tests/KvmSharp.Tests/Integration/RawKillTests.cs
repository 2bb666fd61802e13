using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// kill -9 of the VMM while the default guest writes and flushes a raw disk (Qcow2KillTests does the same for qcow2):
/// each block the guest reported flushed (busybox dd conv=fsync: a virtio-blk FLUSH after the write) must be in the file
/// afterwards. A raw file has no metadata to check (qemu-img check has nothing to say about raw); its bytes are read
/// directly.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RawKillTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private const int Runs = 1, BlocksPerRun = 256, Spread = 5;   // one boot: the CI budget; Qcow2KillTests kills three times
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-rawkill").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void FlushedBlocksOfARawDiskSurviveKillNine()
    {
        Assert.NotNull(guest.Guest);
        string image = Path.Combine(_dir, "disk.raw");
        using (var file = File.Create(image)) file.SetLength(64 << 20);
        var blocks = new FlushedBlocks("raw", BlocksPerRun, Spread);
        for (int run = 0; run < Runs; run++)
            blocks.WriteAndKill(run, $"{image},format=raw", target: 5 + run * 3);

        Assert.Equal(64L << 20, new FileInfo(image).Length);
        blocks.AssertAllIn(image, atLeast: 5);
    }
}
