using System.Text;
using System.Text.RegularExpressions;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// The guest side of the kill -9 tests (Qcow2KillTests, RawKillTests): the default guest writes numbered 4 KiB blocks to
/// /dev/vda, each with busybox dd conv=fsync (a virtio-blk FLUSH after the write) and "flushed N" on its console after;
/// the VMM is killed mid-way and every block the guest reported flushed must then be on the disk.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class FlushedBlocks(string prefix, int blocksPerRun, int spread)
{
    private const int BlockSize = 4096;

    public List<(int Run, int Block)> Flushed { get; } = [];

    /// <summary>Boots a VMM on <paramref name="disk"/> (a --disk value), kills it after <paramref name="target"/> flushed blocks, and records them.</summary>
    public void WriteAndKill(int run, string disk, int target)
    {
        string script = $"i=0; while [ $i -lt {blocksPerRun} ]; do yes {prefix}{run}-blk$i | head -c {BlockSize} | "
            + $"dd of=/dev/vda bs={BlockSize} seek=$(( ({run} * {blocksPerRun} + i) * {spread} )) count=1 conv=fsync 2>/dev/null && echo flushed $i; i=$((i+1)); done";
        using var vmm = new VmmProcess("run", "--accel", "emulate", "--icount", "0", "--exec", script, "--disk", disk);
        // Kill somewhere in the middle of the writes: after a few flushed blocks, at a moment the guest picks.
        vmm.WaitUntil(() => Regex.Matches(vmm.Stdout, @"^flushed \d+$", RegexOptions.Multiline).Count >= target || vmm.HasExited,
            $"run {run}: the guest did not flush {target} blocks", seconds: 600);
        vmm.Kill();
        vmm.WaitForExit(TimeSpan.FromSeconds(10));
        foreach (Match m in Regex.Matches(vmm.Stdout, @"^flushed (\d+)$", RegexOptions.Multiline))
            Flushed.Add((run, int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
    }

    /// <summary>Every flushed block is in the raw bytes at <paramref name="rawPath"/>, and at least <paramref name="atLeast"/> were flushed.</summary>
    public void AssertAllIn(string rawPath, int atLeast)
    {
        using var disk = File.OpenRead(rawPath);
        var block = new byte[BlockSize];
        foreach (var (run, i) in Flushed)
        {
            disk.Position = (long)(run * blocksPerRun + i) * spread * BlockSize;
            disk.ReadExactly(block);
            var line = Encoding.ASCII.GetBytes($"{prefix}{run}-blk{i}\n");
            var expected = Enumerable.Range(0, BlockSize).Select(k => line[k % line.Length]).ToArray();
            Assert.True(expected.AsSpan().SequenceEqual(block), $"block {i} of run {run} was reported flushed but is not on the disk");
        }
        Assert.True(Flushed.Count >= atLeast, $"only {Flushed.Count} blocks were flushed");
    }
}
