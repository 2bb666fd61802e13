namespace KvmSharp.Devices.Virtio.RateLimiting;

/// <summary>
/// A token bucket's saved state: its config and what is left of it, so a snapshot or a migrated machine keeps the
/// budget it had (a guest cannot reset its limit by being saved and restored). The time since the last refill is not
/// saved: the refill clock starts again at the restore, as Firecracker's does.
/// </summary>
public sealed record TokenBucketState
{
    public ulong Size { get; init; }
    public ulong RefillTime { get; init; }
    public ulong OneTimeBurst { get; init; }

    /// <summary>Tokens in the refilling budget; below zero after an oversized request (a debt paid by the refill).</summary>
    public long Budget { get; init; }

    /// <summary>What is left of the one-time burst.</summary>
    public ulong OneTimeBurstLeft { get; init; }

    /// <summary>The refill's fraction of a token carried over, in token·ns (below refill_time in ns).</summary>
    public ulong RefillRemainder { get; init; }
}

/// <summary>A rate limiter's saved state: its two buckets, each absent when it limits nothing.</summary>
public sealed record RateLimiterState
{
    public TokenBucketState? Bandwidth { get; init; }
    public TokenBucketState? Ops { get; init; }
}
