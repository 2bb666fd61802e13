using System.Text;
using System.Text.RegularExpressions;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;

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
        var flushed = new List<(int Run, int Block)>();
        for (int run = 0; run < Runs; run++)
        {
            string script = $"i=0; while [ $i -lt {BlocksPerRun} ]; do yes raw{run}-blk$i | head -c 4096 | "
                + $"dd of=/dev/vda bs=4096 seek=$(( ({run} * {BlocksPerRun} + i) * {Spread} )) count=1 conv=fsync 2>/dev/null && echo flushed $i; i=$((i+1)); done";
            using var vmm = new VmmProcess("run", "--accel", "emulate", "--icount", "0", "--exec", script, "--disk", $"{image},format=raw");
            int target = 5 + run * 3;
            vmm.WaitUntil(() => Regex.Matches(vmm.Stdout, @"^flushed \d+$", RegexOptions.Multiline).Count >= target || vmm.HasExited,
                $"run {run}: the guest did not flush {target} blocks", seconds: 600);
            vmm.Kill();
            vmm.WaitForExit(TimeSpan.FromSeconds(10));
            foreach (Match m in Regex.Matches(vmm.Stdout, @"^flushed (\d+)$", RegexOptions.Multiline))
                flushed.Add((run, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }

        Assert.Equal(64L << 20, new FileInfo(image).Length);
        using var disk = File.OpenRead(image);
        var block = new byte[4096];
        foreach (var (run, i) in flushed)
        {
            disk.Position = (long)(run * BlocksPerRun + i) * Spread * 4096;
            disk.ReadExactly(block);
            var line = Encoding.ASCII.GetBytes($"raw{run}-blk{i}\n");
            var expected = Enumerable.Range(0, 4096).Select(k => line[k % line.Length]).ToArray();
            Assert.True(expected.AsSpan().SequenceEqual(block), $"block {i} of run {run} was reported flushed but is not in the file");
        }
        Assert.True(flushed.Count >= 5, $"only {flushed.Count} blocks were flushed");
    }
}
