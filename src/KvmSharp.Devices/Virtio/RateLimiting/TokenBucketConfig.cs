namespace KvmSharp.Devices.Virtio.RateLimiting;

/// <summary>
/// One token bucket as Firecracker's API describes it (its <c>TokenBucket</c> object): <paramref name="Size"/> tokens
/// (bytes or operations) refilled evenly over <paramref name="RefillTime"/> milliseconds, plus
/// <paramref name="OneTimeBurst"/> tokens spent before the refilling budget and never refilled.
/// A bucket of size 0 or refill time 0 limits nothing (as in Firecracker), so such a config means "no bucket".
/// </summary>
public sealed record TokenBucketConfig(ulong Size, ulong RefillTime, ulong OneTimeBurst = 0)
{
    /// <summary>The largest size: the budget is kept as a signed 64-bit count (it goes below zero after an oversized request).</summary>
    public const ulong MaxSize = long.MaxValue / 4;

    /// <summary>The longest refill time, in ms (about 290 years; its nanoseconds still fit in 63 bits).</summary>
    public const ulong MaxRefillTime = long.MaxValue / 1_000_000;

    /// <summary>True when this config limits something (Firecracker ignores a bucket with size or refill_time 0).</summary>
    public bool Limits => Size != 0 && RefillTime != 0;

    /// <summary>Null when every value is in range, else the first problem: the field (as Firecracker's JSON names it) and why.</summary>
    public (string Field, string Message)? Problem()
    {
        if (Size > MaxSize) return ("size", $"{Size} is above {MaxSize}");
        if (RefillTime > MaxRefillTime) return ("refill_time", $"{RefillTime} ms is above {MaxRefillTime}");
        if (OneTimeBurst > MaxSize) return ("one_time_burst", $"{OneTimeBurst} is above {MaxSize}");
        return null;
    }
}
