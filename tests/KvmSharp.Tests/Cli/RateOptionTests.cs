using KvmSharp.Cli.Parsing;
using KvmSharp.Devices.Virtio.RateLimiting;

namespace KvmSharp.Tests.Cli;

/// <summary><c>--disk …,iops=N,bps=N</c> and <c>--net …,bps=N</c>: a bucket of one second's worth refilled over 1000 ms.</summary>
public class RateOptionTests
{
    [Fact]
    public void DiskIopsAndBpsBecomeOpsAndBandwidthBuckets()
    {
        Assert.True(DiskOption.TryParse("/img/a.raw,format=raw,iops=200,bps=4M", out var disk, out string error), error);
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(4 << 20, 1000), new TokenBucketConfig(200, 1000)), disk.RateLimiter);
        Assert.True(DiskOption.TryParse("/img/a.raw,bps=1500k", out disk, out _));
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(1500 << 10, 1000)), disk.RateLimiter);
        Assert.True(DiskOption.TryParse("/img/a.raw", out disk, out _));
        Assert.Null(disk.RateLimiter);
    }

    [Fact]
    public void NetBpsLimitsBothDirections()
    {
        Assert.True(NetOption.TryParse("tap=tap0,bps=1G", out var net, out string error), error);
        var expected = new RateLimiterConfig(new TokenBucketConfig(1UL << 30, 1000));
        Assert.Equal(expected, net.RxRateLimiter);
        Assert.Equal(expected, net.TxRateLimiter);
        Assert.True(NetOption.TryParse("tap=tap0", out net, out _));
        Assert.Null(net.RxRateLimiter);
    }

    [Theory]
    [InlineData("/a.raw,bps=0", "bps=0")]
    [InlineData("/a.raw,bps=", "bps=")]
    [InlineData("/a.raw,bps=-5", "bps=-5")]
    [InlineData("/a.raw,bps=4X", "bps=4X")]
    [InlineData("/a.raw,bps=M", "bps=M")]
    [InlineData("/a.raw,iops=1.5", "iops=1.5")]
    [InlineData("/a.raw,iops=99999999999999999999", "iops=")]
    [InlineData("/a.raw,bps=9999999999G", "bps=")]
    public void BadDiskRatesAreNamed(string text, string expected)
    {
        Assert.False(DiskOption.TryParse(text, out _, out string error));
        Assert.Contains(expected, error);
        Assert.Contains("rate per second", error);
    }

    [Fact]
    public void NetHasNoIops()
    {
        Assert.False(NetOption.TryParse("tap=tap0,iops=5", out _, out string error));
        Assert.Contains("unknown key 'iops'", error);
    }
}
