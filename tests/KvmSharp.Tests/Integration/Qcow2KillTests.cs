using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;
using KvmSharp.Tests.Storage;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// kill -9 of the VMM while the default guest writes and flushes a qcow2 disk, three times: each block the guest
/// reported flushed (busybox dd conv=fsync, a virtio-blk FLUSH) must be in the image, and the image must have no
/// corruption (qemu-img check: leaks at most, which `kvmsharp image check --repair` then gives back). Everything
/// is read with qemu-img, not with our code.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class Qcow2KillTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private const int Runs = 3, BlocksPerRun = 256, Spread = 17;   // 17 blocks apart: every write allocates a cluster
    private readonly StorageScratch _scratch = new();

    public void Dispose() => _scratch.Dispose();

    [Fact]
    public void FlushedBlocksSurviveKillNineAndTheImageChecksClean()
    {
        Assert.NotNull(guest.Guest);
        string image = _scratch.PathOf("disk.qcow2");
        _scratch.QemuImgOk("create", "-q", "-f", "qcow2", image, "64M");
        var blocks = new FlushedBlocks("run", BlocksPerRun, Spread);
        for (int run = 0; run < Runs; run++)
            blocks.WriteAndKill(run, $"{image},format=qcow2", target: 4 + run * 2);

        var check = _scratch.QemuImg("check", "-f", "qcow2", image);
        Assert.True(check.Code is 0 or 3, $"qemu-img check exited {check.Code} (2 = corruption): {check.Stdout}");
        var (code, stdout, stderr) = CliProcess.Run("image", "check", image, "--repair");
        Assert.True(code == 0, $"image check --repair: {stdout} {stderr}");
        _scratch.AssertQemuCheckClean(image);

        string raw = _scratch.PathOf("disk.raw");
        _scratch.QemuImgOk("convert", "-q", "-f", "qcow2", "-O", "raw", image, raw);
        blocks.AssertAllIn(raw, atLeast: Runs * 4);
    }
}
