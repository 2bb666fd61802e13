using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.RateLimiting;

/// <summary>
/// A token bucket with Firecracker's meaning (its API spec, <c>TokenBucket</c>): it holds up to <c>size</c> tokens,
/// starts full, and refills <c>size</c> tokens evenly over <c>refill_time</c> ms; the one-time burst is spent first and
/// never refilled. The refill is exact integer arithmetic: the fraction of a token not yet earned is carried over in
/// token·ns, so no time is lost to rounding however often the bucket is asked.
/// <para>
/// A request larger than the bucket could never fit; as Firecracker does, it goes ahead when the bucket is full and
/// leaves the budget below zero, and the refill pays that debt before anything else goes: large requests pass at
/// the configured average rate rather than never. Not thread-safe: <see cref="RateLimiter"/> locks around it.
/// </para>
/// </summary>
internal sealed class TokenBucket
{
    private const long NsPerMs = 1_000_000;
    /// <summary>The lowest budget kept: an oversized request's debt is bounded so the arithmetic cannot overflow.</summary>
    private const long MinBudget = -(long)TokenBucketConfig.MaxSize;

    private readonly ulong _size;
    private readonly ulong _refillNs;
    private long _budget;
    private ulong _burstLeft;
    private ulong _remainder;

    /// <param name="config">A config that <see cref="TokenBucketConfig.Limits"/> and has no <see cref="TokenBucketConfig.Problem"/>.</param>
    public TokenBucket(TokenBucketConfig config)
    {
        if (!config.Limits || config.Problem() is not null) throw new ArgumentException("the bucket must limit something and be in range", nameof(config));
        Config = config;
        _size = config.Size;
        _refillNs = config.RefillTime * NsPerMs;
        _budget = (long)_size;
        _burstLeft = config.OneTimeBurst;
    }

    public TokenBucketConfig Config { get; }

    /// <summary>Tokens in the refilling budget (below zero while an oversized request's debt is paid).</summary>
    public long Budget => _budget;

    public ulong OneTimeBurstLeft => _burstLeft;

    /// <summary>Adds the tokens earned in <paramref name="elapsedNs"/> ns, up to the bucket's size.</summary>
    public void Refill(long elapsedNs)
    {
        if (elapsedNs <= 0) return;
        if (_budget >= (long)_size) { _remainder = 0; return; }
        UInt128 earned = (UInt128)(ulong)elapsedNs * _size + _remainder;
        UInt128 tokens = earned / _refillNs;
        _remainder = (ulong)(earned % _refillNs);
        ulong room = (ulong)((long)_size - _budget);   // positive: the budget is below the size
        if (tokens >= room)
        {
            _budget = (long)_size;
            _remainder = 0;
        }
        else _budget += (long)(ulong)tokens;
    }

    /// <summary>True when <paramref name="tokens"/> can be taken now (<see cref="Take"/> would succeed).</summary>
    public bool CanTake(ulong tokens)
    {
        if (tokens <= _burstLeft) return true;
        ulong rest = tokens - _burstLeft;
        if (_budget >= 0 && rest <= (ulong)_budget) return true;
        return rest > _size && _budget == (long)_size;   // oversized: goes when the bucket is full
    }

    /// <summary>Takes <paramref name="tokens"/>, the one-time burst first; the caller checked <see cref="CanTake"/>.</summary>
    public void Take(ulong tokens)
    {
        if (tokens <= _burstLeft) { _burstLeft -= tokens; return; }
        ulong rest = tokens - _burstLeft;
        _burstLeft = 0;
        _budget = (long)Int128.Max((Int128)_budget - rest, MinBudget);
    }

    /// <summary>Nanoseconds until <paramref name="tokens"/> could be taken if nothing else took any meanwhile; 0 if now.</summary>
    public long WaitNs(ulong tokens)
    {
        if (CanTake(tokens)) return 0;
        ulong rest = tokens - _burstLeft;
        ulong target = Math.Min(rest, _size);                  // an oversized request waits for a full bucket
        UInt128 deficit = (UInt128)((Int128)target - _budget);  // > 0, else CanTake was true
        // After t ns the refill has added floor((t·size + remainder) / refill_ns) tokens: solve for the deficit, round up.
        UInt128 needed = deficit * _refillNs - _remainder;
        UInt128 ns = (needed + _size - 1) / _size;
        return ns > long.MaxValue ? long.MaxValue : (long)(ulong)ns;
    }

    public TokenBucketState Save() => new()
    {
        Size = Config.Size,
        RefillTime = Config.RefillTime,
        OneTimeBurst = Config.OneTimeBurst,
        Budget = _budget,
        OneTimeBurstLeft = _burstLeft,
        RefillRemainder = _remainder,
    };

    /// <summary>A bucket from a saved state, every field checked as hostile input (<paramref name="field"/> names it in errors).</summary>
    public static TokenBucket Load(TokenBucketState state, string field)
    {
        StateCheck.NotNull(state, field);
        var config = new TokenBucketConfig(state.Size, state.RefillTime, state.OneTimeBurst);
        StateCheck.That(config.Limits, field, "a saved bucket has a size and a refill time above 0");
        if (config.Problem() is { } problem) StateCheck.Fail($"{field}.{problem.Field}", problem.Message);
        var bucket = new TokenBucket(config);
        StateCheck.InRange(state.Budget, MinBudget, (long)state.Size, $"{field}.Budget");
        StateCheck.AtMost(state.OneTimeBurstLeft, state.OneTimeBurst, $"{field}.OneTimeBurstLeft");
        StateCheck.That(state.RefillRemainder < bucket._refillNs, $"{field}.RefillRemainder",
            $"{state.RefillRemainder} is not below the refill time in ns ({bucket._refillNs})");
        bucket._budget = state.Budget;
        bucket._burstLeft = state.OneTimeBurstLeft;
        bucket._remainder = state.Budget == (long)state.Size ? 0 : state.RefillRemainder;
        return bucket;
    }
}
