namespace KvmSharp.Devices.Virtio.Block;

/// <summary>
/// virtio-blk's own saved state: nothing the guest changes (the device has no writable configuration and a pause
/// finishes every request it took), only what the driver was told, so that a restore onto a disk of another size
/// or writability is refused rather than shown to a driver that sized its partitions by the old one.
/// </summary>
public sealed record VirtioBlockState
{
    public ulong CapacitySectors { get; init; }
    public ulong DeviceFeatures { get; init; }

    /// <summary>The rate limiter's buckets and what is left in them (absent in states saved before limiters existed: kept as configured).</summary>
    public RateLimiting.RateLimiterState? RateLimiter { get; init; }
}
