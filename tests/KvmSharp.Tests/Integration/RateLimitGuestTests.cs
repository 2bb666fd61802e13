using System.Globalization;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Integration;

/// <summary>
/// A rate-limited disk measured by the guest itself: the default guest on the software CPU reads a raw disk given
/// <c>bps=4M</c> with O_DIRECT (no page cache between it and the device) and times the read with its own clock.
/// No --icount here: the limiter runs on the host's clock, so the guest's clock must follow real time too.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class RateLimitGuestTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private const int LimitMib = 4, MeasuredMib = 16;
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-ratelimit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void ADiskLimitedTo4MiBPerSecondReadsAtThatRateWithinTenPercent()
    {
        Assert.NotNull(guest.Guest);
        string disk = Path.Combine(_dir, "disk.raw");
        using (var file = File.Create(disk)) file.SetLength((LimitMib + MeasuredMib) << 20);

        // The bucket starts full (one second's worth, as Firecracker's does): the first read empties it, then the
        // measured read runs at the refill rate alone. /proc/uptime has 10 ms steps, well inside the 10% margin.
        var (code, stdout, stderr) = CliProcess.Run(
            "run", "--accel", "emulate", "--disk", $"{disk},format=raw,bps={LimitMib}M", "--exec",
            $"dd if=/dev/vda of=/dev/null bs=1M count={LimitMib} iflag=direct 2>/dev/null"
            + " && a=$(cut -d' ' -f1 /proc/uptime)"
            + $" && dd if=/dev/vda of=/dev/null bs=1M skip={LimitMib} count={MeasuredMib} iflag=direct 2>/dev/null"
            + " && b=$(cut -d' ' -f1 /proc/uptime) && echo \"read $a $b\"");
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        var line = stdout.Split('\n').Single(l => l.StartsWith("read ", StringComparison.Ordinal)).Split(' ');
        double seconds = double.Parse(line[2], CultureInfo.InvariantCulture) - double.Parse(line[1], CultureInfo.InvariantCulture);
        double rate = MeasuredMib / seconds;
        Assert.True(Math.Abs(rate - LimitMib) <= LimitMib * 0.1, $"the guest read {MeasuredMib} MiB in {seconds:F2} s: {rate:F2} MiB/s, limit {LimitMib} MiB/s");
    }
}
