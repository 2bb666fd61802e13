namespace KvmSharp.Devices.Virtio.RateLimiting;

/// <summary>
/// Firecracker's <c>RateLimiter</c> object: a bucket for bytes (<paramref name="Bandwidth"/>) and one for operations
/// (<paramref name="Ops"/>: block requests, network frames); either may be absent, and a request goes ahead only when
/// both have room.
/// </summary>
public sealed record RateLimiterConfig(TokenBucketConfig? Bandwidth = null, TokenBucketConfig? Ops = null)
{
    /// <summary>True when either bucket limits something.</summary>
    public bool Limits => Bandwidth is { Limits: true } || Ops is { Limits: true };

    /// <summary>Null when both buckets are in range, else the first problem, its field as "bandwidth.size".</summary>
    public (string Field, string Message)? Problem() =>
        Bandwidth?.Problem() is { } b ? ($"bandwidth.{b.Field}", b.Message) : Ops?.Problem() is { } o ? ($"ops.{o.Field}", o.Message) : null;
}
