using System.Diagnostics;
using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.RateLimiting;

/// <summary>
/// A device's rate limiter (Firecracker's <c>RateLimiter</c>): a bandwidth bucket counting bytes and an ops bucket
/// counting requests or frames. A request goes ahead only when both have room, and then both are charged; when not,
/// nothing is charged and <see cref="TryConsume"/> says how long until it would fit, so the device can set a timer
/// instead of spinning. Thread-safe: the device thread consumes while the API thread may <see cref="Update"/>.
/// </summary>
public sealed class RateLimiter : IStateful<RateLimiterState>
{
    private readonly Lock _lock = new();
    private readonly Func<long> _clockNs;
    private TokenBucket? _bandwidth;
    private TokenBucket? _ops;
    private long _lastRefillNs;

    /// <param name="clockNs">A monotonic clock in ns (tests pass their own); null: the host's monotonic clock.</param>
    public RateLimiter(RateLimiterConfig config, Func<long>? clockNs = null)
    {
        if (config.Problem() is { } problem) throw new ArgumentException($"{problem.Field}: {problem.Message}", nameof(config));
        _clockNs = clockNs ?? MonotonicNs;
        _lastRefillNs = _clockNs();
        _bandwidth = Make(config.Bandwidth);
        _ops = Make(config.Ops);
    }

    /// <summary>The host's monotonic clock in ns.</summary>
    public static long MonotonicNs() => (long)((Int128)Stopwatch.GetTimestamp() * 1_000_000_000 / Stopwatch.Frequency);

    /// <summary>The buckets now in force (after updates).</summary>
    public RateLimiterConfig Config
    {
        get { lock (_lock) return new RateLimiterConfig(_bandwidth?.Config, _ops?.Config); }
    }

    /// <summary>
    /// Charges one operation and <paramref name="bytes"/> bytes when both buckets have room (true, <paramref name="waitNs"/> 0);
    /// else charges nothing and sets <paramref name="waitNs"/> to the time until both would have room (if nothing else is charged meanwhile).
    /// </summary>
    public bool TryConsume(ulong bytes, out long waitNs)
    {
        lock (_lock)
        {
            waitNs = 0;
            if (_bandwidth is null && _ops is null) return true;   // unlimited: no clock read
            RefillLocked();
            bool fits = (_bandwidth?.CanTake(bytes) ?? true) && (_ops?.CanTake(1) ?? true);
            if (fits)
            {
                _bandwidth?.Take(bytes);
                _ops?.Take(1);
                waitNs = 0;
                return true;
            }
            // At least 1 ns, so a caller never takes "0" for "go now" after being refused.
            waitNs = Math.Max(1, Math.Max(_bandwidth?.WaitNs(bytes) ?? 0, _ops?.WaitNs(1) ?? 0));
            return false;
        }
    }

    /// <summary>
    /// Changes the limiter of a running device (Firecracker's PATCH): a bucket given with size or refill_time 0 is
    /// removed, one given otherwise replaces the old one and starts full, one not given (null) is kept as it is.
    /// </summary>
    public void Update(TokenBucketConfig? bandwidth, TokenBucketConfig? ops)
    {
        if (new RateLimiterConfig(bandwidth, ops).Problem() is { } problem) throw new ArgumentException($"{problem.Field}: {problem.Message}");
        lock (_lock)
        {
            RefillLocked();
            if (bandwidth is not null) _bandwidth = Make(bandwidth);
            if (ops is not null) _ops = Make(ops);
        }
    }

    public RateLimiterState SaveState()
    {
        lock (_lock)
        {
            RefillLocked();
            return new RateLimiterState { Bandwidth = _bandwidth?.Save(), Ops = _ops?.Save() };
        }
    }

    /// <summary>Takes the buckets (their configs and budgets) from <paramref name="state"/>, all checked before any is used.</summary>
    public void RestoreState(RateLimiterState state)
    {
        StateCheck.NotNull(state, "rate_limiter");
        var bandwidth = state.Bandwidth is { } b ? TokenBucket.Load(b, "rate_limiter.Bandwidth") : null;
        var ops = state.Ops is { } o ? TokenBucket.Load(o, "rate_limiter.Ops") : null;
        lock (_lock)
        {
            _bandwidth = bandwidth;
            _ops = ops;
            _lastRefillNs = _clockNs();
        }
    }

    private void RefillLocked()
    {
        long now = _clockNs();
        long elapsed = now - _lastRefillNs;
        if (elapsed <= 0) return;   // a clock that did not move (or a test clock set back) adds nothing
        _lastRefillNs = now;
        _bandwidth?.Refill(elapsed);
        _ops?.Refill(elapsed);
    }

    private static TokenBucket? Make(TokenBucketConfig? config) => config is { Limits: true } ? new TokenBucket(config) : null;
}
