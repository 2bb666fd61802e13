using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;
using KvmSharp.Tests.Manager.Daemon;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// The filesystem under a qcow2 image fills up while the guest allocates clusters: a 1 MiB tmpfs, mounted in a mount
/// namespace of the test's own (unshare -m; the host sees nothing). KvmSharp answers such a write with
/// VIRTIO_BLK_S_IOERR (as QEMU's werror=report), it does not pause the VM (QEMU's default werror=enospc): a VMM run
/// alone has no one to resume it, and a guest can react to EIO itself. Checked: the guest sees the I/O errors and goes on
/// running, every block it had flushed before is in the image, and qemu-img check finds no corruption (a leaked
/// cluster at most, which costs space, never data).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DiskFullTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private const int Blocks = 40, Spread = 17;   // 17 blocks apart: every write allocates a 64 KiB cluster
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-diskfull").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void AFullDiskUnderQcow2GivesTheGuestIoErrorsAndLosesNothing()
    {
        Assert.NotNull(guest.Guest);
        string guestScript = $"i=0; fails=0; while [ $i -lt {Blocks} ] && [ $fails -lt 3 ]; do yes full-blk$i | head -c 4096 | "
            + $"dd of=/dev/vda bs=4096 seek=$(( i * {Spread} )) count=1 conv=fsync 2>/dev/null && echo flushed $i || {{ echo failed $i; fails=$((fails+1)); }}; i=$((i+1)); done; echo guest-alive";
        string launcher = Path.Combine(CliProcess.RepositoryRoot, "kvmsharp");
        // Everything that needs the small filesystem happens inside the namespace; the image leaves it converted to raw.
        string host = """
            set -e
            mount -t tmpfs -o size=1M kvmsharp-full "$1/small"
            qemu-img create -q -f qcow2 "$1/small/disk.qcow2" 64M
            set +e
            "$2" run --accel emulate --icount 0 --exec "$3" --disk "$1/small/disk.qcow2,format=qcow2" > "$1/guest.out" 2>&1
            echo "vmm-exit $?" >> "$1/guest.out"
            df -k "$1/small" | tail -1 >> "$1/guest.out"
            qemu-img check "$1/small/disk.qcow2" > "$1/check.out" 2>&1
            echo "check-exit $?" >> "$1/check.out"
            qemu-img convert -f qcow2 -O raw "$1/small/disk.qcow2" "$1/disk.raw"
            """;
        Directory.CreateDirectory(Path.Combine(_dir, "small"));
        var (code, stdout, stderr) = Tool.Run("unshare", ["-m", "--propagation", "private", "sh", "-c", host, "sh", _dir, launcher, guestScript], seconds: 900);
        string guestOut = File.Exists(Path.Combine(_dir, "guest.out")) ? File.ReadAllText(Path.Combine(_dir, "guest.out")) : "";
        string check = File.Exists(Path.Combine(_dir, "check.out")) ? File.ReadAllText(Path.Combine(_dir, "check.out")) : "";
        Assert.True(code == 0, $"the namespace's script failed ({code}): {stdout}{stderr}\nguest: {guestOut}\ncheck: {check}");

        var flushed = Regex.Matches(guestOut, @"^flushed (\d+)$", RegexOptions.Multiline).Select(m => int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture)).ToList();
        int failed = Regex.Matches(guestOut, @"^failed \d+$", RegexOptions.Multiline).Count;
        Assert.True(flushed.Count >= 3, $"the guest flushed only {flushed.Count} blocks before the disk filled: {guestOut}");
        Assert.True(failed >= 1, $"the guest never saw an I/O error: the filesystem did not fill ({guestOut})");
        Assert.Contains("guest-alive", guestOut);
        Assert.Contains("vmm-exit 0", guestOut);
        Assert.True(check.Contains("check-exit 0") || check.Contains("check-exit 3"), $"qemu-img check found corruption: {check}");

        using var disk = File.OpenRead(Path.Combine(_dir, "disk.raw"));
        var block = new byte[4096];
        foreach (int i in flushed)
        {
            disk.Position = (long)i * Spread * 4096;
            disk.ReadExactly(block);
            var line = Encoding.ASCII.GetBytes($"full-blk{i}\n");
            Assert.True(Enumerable.Range(0, 4096).All(k => block[k] == line[k % line.Length]), $"block {i} was reported flushed but is not in the image");
        }
    }
}
