using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Machine.Config;

/// <summary>Rate limiters in a config file: Firecracker's field names, a round trip, and checks that name the field.</summary>
public class RateLimitConfigTests
{
    private static MachineConfig WithLimits() => new MachineConfig
    {
        Disks = [new DiskConfig("/img/a.raw", DiskFormat.Raw)
        {
            RateLimiter = new RateLimiterConfig(new TokenBucketConfig(4 << 20, 1000, OneTimeBurst: 1 << 20), new TokenBucketConfig(100, 500)),
        }],
        Nets = [new NetConfig("tap0") { RxRateLimiter = new RateLimiterConfig(Ops: new TokenBucketConfig(1000, 1000)), TxRateLimiter = new RateLimiterConfig(new TokenBucketConfig(1 << 20, 100)) }],
    }.Normalize();

    [Fact]
    public void LimitersRoundTripWithFirecrackersNames()
    {
        var config = WithLimits();
        string json = MachineConfigJson.Write(config);
        Assert.Equal(config, MachineConfigJson.Read(json));
        Assert.Empty(config.Validate());
        Assert.Contains("\"rate_limiter\"", json);
        Assert.Contains("\"rx_rate_limiter\"", json);
        Assert.Contains("\"tx_rate_limiter\"", json);
        Assert.Contains("\"one_time_burst\": 1048576", json);
        Assert.Contains("\"refill_time\": 500", json);
        Assert.Contains("\"bandwidth\"", json);
    }

    [Fact]
    public void OutOfRangeBucketsAreNamedByTheirPath()
    {
        var config = WithLimits();
        var bad = config with
        {
            Disks = [config.Disks[0] with { RateLimiter = new RateLimiterConfig(Ops: new TokenBucketConfig(ulong.MaxValue, 1000)) }],
            Nets = [config.Nets[0] with { TxRateLimiter = new RateLimiterConfig(new TokenBucketConfig(1, 1000, OneTimeBurst: ulong.MaxValue)) }],
        };
        var fields = bad.Validate().Select(p => p.Field).ToArray();
        Assert.Contains("disks[0].rate_limiter.ops.size", fields);
        Assert.Contains("nets[0].tx_rate_limiter.bandwidth.one_time_burst", fields);
    }

    [Fact]
    public void ABucketWithoutItsRequiredFieldsIsRefused()
    {
        string json = MachineConfigJson.Write(WithLimits()).Replace("\"refill_time\": 500", "\"refill_tme\": 500", StringComparison.Ordinal);
        var e = Assert.Throws<MachineConfigException>(() => MachineConfigJson.Read(json));
        Assert.Contains("refill_tme", e.Message);
    }
}
