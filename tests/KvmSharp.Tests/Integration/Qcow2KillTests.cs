using System.Text;
using System.Text.RegularExpressions;
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
        var flushed = new List<(int Run, int Block)>();
        for (int run = 0; run < Runs; run++)
        {
            string script = $"i=0; while [ $i -lt {BlocksPerRun} ]; do yes run{run}-blk$i | head -c 4096 | "
                + $"dd of=/dev/vda bs=4096 seek=$(( ({run} * {BlocksPerRun} + i) * {Spread} )) count=1 conv=fsync 2>/dev/null && echo flushed $i; i=$((i+1)); done";
            using var vmm = new VmmProcess("run", "--accel", "emulate", "--icount", "0", "--exec", script, "--disk", $"{image},format=qcow2");
            // Kill somewhere in the middle of the writes: after a few flushed blocks, at a moment the guest picks.
            int target = 4 + run * 2;
            vmm.WaitUntil(() => Regex.Matches(vmm.Stdout, @"^flushed \d+$", RegexOptions.Multiline).Count >= target || vmm.HasExited,
                $"run {run}: the guest did not flush {target} blocks", seconds: 600);
            vmm.Kill();
            vmm.WaitForExit(TimeSpan.FromSeconds(10));
            foreach (Match m in Regex.Matches(vmm.Stdout, @"^flushed (\d+)$", RegexOptions.Multiline))
                flushed.Add((run, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }

        var check = _scratch.QemuImg("check", "-f", "qcow2", image);
        Assert.True(check.Code is 0 or 3, $"qemu-img check exited {check.Code} (2 = corruption): {check.Stdout}");
        var (code, stdout, stderr) = CliProcess.Run("image", "check", image, "--repair");
        Assert.True(code == 0, $"image check --repair: {stdout} {stderr}");
        _scratch.AssertQemuCheckClean(image);

        string raw = _scratch.PathOf("disk.raw");
        _scratch.QemuImgOk("convert", "-q", "-f", "qcow2", "-O", "raw", image, raw);
        using var disk = File.OpenRead(raw);
        var block = new byte[4096];
        foreach (var (run, i) in flushed)
        {
            disk.Position = (long)(run * BlocksPerRun + i) * Spread * 4096;
            disk.ReadExactly(block);
            var line = Encoding.ASCII.GetBytes($"run{run}-blk{i}\n");
            var expected = Enumerable.Range(0, 4096).Select(k => line[k % line.Length]).ToArray();
            Assert.True(expected.AsSpan().SequenceEqual(block), $"block {i} of run {run} was reported flushed but is not in the image");
        }
        Assert.True(flushed.Count >= Runs * 4, $"only {flushed.Count} blocks were flushed");
    }
}
