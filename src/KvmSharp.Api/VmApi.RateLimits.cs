using KvmSharp.Api.Firecracker;
using KvmSharp.Api.Http;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Net;
using RateLimiterConfig = KvmSharp.Devices.Virtio.RateLimiting.RateLimiterConfig;
using TokenBucketConfig = KvmSharp.Devices.Virtio.RateLimiting.TokenBucketConfig;
using KvmSharp.Machine.Control;

namespace KvmSharp.Api;

// Rate limiters (Firecracker's rate_limiter on drives, rx_/tx_rate_limiter on NICs): PATCH /drives/{id} and
// PATCH /network-interfaces/{id} change them before the boot (in the config) or on the running device, as Firecracker does.
public sealed partial class VmApi
{
    private async Task PatchDrive(HttpExchange context, string? id)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.PartialDrive);
        if (request.DriveId != id) throw new ApiFault($"drive_id '{request.DriveId}' in the body differs from '{id}' in the path");
        var disk = _machine.Config.Disks.FirstOrDefault(d => d.Id == id) ?? throw new ApiFault($"there is no drive '{id}'");
        if (request.PathOnHost is { } path && Path.GetFullPath(path) != disk.Path)
            throw new ApiFault("path_on_host: changing a drive's file at run time is not supported; only rate_limiter can be patched");
        if (request.RateLimiter is not { } limiter) { await NoContent(context); return; }
        var bandwidth = RateLimits.ToBucket(limiter.Bandwidth, "rate_limiter.bandwidth");
        var ops = RateLimits.ToBucket(limiter.Ops, "rate_limiter.ops");
        if (_machine.Phase == MachinePhase.NotStarted)
            Change(c => c.WithDisk(disk with { RateLimiter = RateLimits.Merge(disk.RateLimiter, bandwidth, ops) }));
        else
            RunningDevice<VirtioBlockDevice>(disk.Slot, $"drive '{id}'").RateLimiter.Update(bandwidth, ops);
        await NoContent(context);
    }

    private async Task PatchNetworkInterface(HttpExchange context, string? id)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.PartialNetworkInterface);
        if (request.IfaceId != id) throw new ApiFault($"iface_id '{request.IfaceId}' in the body differs from '{id}' in the path");
        var net = _machine.Config.Nets.FirstOrDefault(n => n.Id == id) ?? throw new ApiFault($"there is no network interface '{id}'");
        var rxBandwidth = RateLimits.ToBucket(request.RxRateLimiter?.Bandwidth, "rx_rate_limiter.bandwidth");
        var rxOps = RateLimits.ToBucket(request.RxRateLimiter?.Ops, "rx_rate_limiter.ops");
        var txBandwidth = RateLimits.ToBucket(request.TxRateLimiter?.Bandwidth, "tx_rate_limiter.bandwidth");
        var txOps = RateLimits.ToBucket(request.TxRateLimiter?.Ops, "tx_rate_limiter.ops");
        if (_machine.Phase == MachinePhase.NotStarted)
        {
            Change(c => c.WithNet(net with
            {
                RxRateLimiter = RateLimits.Merge(net.RxRateLimiter, rxBandwidth, rxOps),
                TxRateLimiter = RateLimits.Merge(net.TxRateLimiter, txBandwidth, txOps),
            }));
        }
        else
        {
            var device = RunningDevice<VirtioNetDevice>(net.Slot, $"network interface '{id}'");
            device.RxRateLimiter.Update(rxBandwidth, rxOps);
            device.TxRateLimiter.Update(txBandwidth, txOps);
        }
        await NoContent(context);
    }

    private T RunningDevice<T>(int? slot, string what) where T : class =>
        _machine.Current?.VirtioDeviceInSlot(slot ?? -1) as T ?? throw new ApiFault($"{what} is not running (the machine has stopped?)");
}

/// <summary>Between Firecracker's rate limiter bodies and our <see cref="RateLimiterConfig"/>, each bad value a fault naming its field.</summary>
internal static class RateLimits
{
    /// <summary>The limiter a PUT body asks for; null when it asks for none (absent, or no bucket that limits).</summary>
    public static RateLimiterConfig? ToConfig(RateLimiter? limiter, string field)
    {
        if (limiter is null) return null;
        var config = new RateLimiterConfig(ToBucket(limiter.Bandwidth, $"{field}.bandwidth"), ToBucket(limiter.Ops, $"{field}.ops"));
        return config.Limits ? config with { Bandwidth = Limiting(config.Bandwidth), Ops = Limiting(config.Ops) } : null;
    }

    /// <summary>A bucket from the body (null when absent); size or refill_time 0 is kept, meaning "no bucket" (Firecracker's Disabled).</summary>
    public static TokenBucketConfig? ToBucket(TokenBucket? bucket, string field)
    {
        if (bucket is null) return null;
        if (bucket.Size < 0) throw new ApiFault($"{field}.size: {bucket.Size} is negative");
        if (bucket.RefillTime < 0) throw new ApiFault($"{field}.refill_time: {bucket.RefillTime} is negative");
        if (bucket.OneTimeBurst is < 0) throw new ApiFault($"{field}.one_time_burst: {bucket.OneTimeBurst} is negative");
        var config = new TokenBucketConfig((ulong)bucket.Size, (ulong)bucket.RefillTime, (ulong)(bucket.OneTimeBurst ?? 0));
        if (config.Problem() is { } problem) throw new ApiFault($"{field}.{problem.Field}: {problem.Message}");
        return config;
    }

    /// <summary>A PATCH before the boot: a bucket given replaces (or, not limiting, removes) the old one; one not given stays.</summary>
    public static RateLimiterConfig? Merge(RateLimiterConfig? current, TokenBucketConfig? bandwidth, TokenBucketConfig? ops)
    {
        var merged = new RateLimiterConfig(Limiting(bandwidth ?? current?.Bandwidth), Limiting(ops ?? current?.Ops));
        return merged.Limits ? merged : null;
    }

    public static RateLimiter? FromConfig(RateLimiterConfig? config) => config is { Limits: true } ? new RateLimiter
    {
        Bandwidth = FromBucket(config.Bandwidth),
        Ops = FromBucket(config.Ops),
    } : null;

    private static TokenBucket? FromBucket(TokenBucketConfig? bucket) => bucket is { Limits: true } ? new TokenBucket
    {
        Size = (long)bucket.Size,
        RefillTime = (long)bucket.RefillTime,
        OneTimeBurst = bucket.OneTimeBurst == 0 ? null : (long)bucket.OneTimeBurst,
    } : null;

    private static TokenBucketConfig? Limiting(TokenBucketConfig? bucket) => bucket is { Limits: true } ? bucket : null;
}
