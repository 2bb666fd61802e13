using System.Diagnostics;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// Guest time that follows the host's monotonic clock: from <c>startNanoseconds</c> at the moment the VM was
/// created (0 for a new VM; the saved time for a restored one), standing still while paused.
/// </summary>
public sealed class HostClock(long startNanoseconds = 0) : IVmClock
{
    // One immutable reading base, swapped whole, so that the hot path reads a consistent pair without a lock.
    private sealed record Base(long StartTicks, long Nanoseconds, bool Paused);

    private volatile Base _base = new(Stopwatch.GetTimestamp(), startNanoseconds, false);
    private readonly Lock _lock = new();

    public long Nanoseconds => Read(_base);

    private static long Read(Base b)
    {
        if (b.Paused) return b.Nanoseconds;
        long elapsed = Stopwatch.GetTimestamp() - b.StartTicks;
        return b.Nanoseconds + (long)((Int128)elapsed * 1_000_000_000 / Stopwatch.Frequency);
    }

    public bool IsPaused => _base.Paused;

    public void Pause()
    {
        lock (_lock)
            if (!_base.Paused) _base = new Base(0, Read(_base), true);
    }

    public void Resume()
    {
        lock (_lock)
            if (_base.Paused) _base = new Base(Stopwatch.GetTimestamp(), _base.Nanoseconds, false);
    }

    public void Set(long nanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nanoseconds);
        lock (_lock) _base = new Base(Stopwatch.GetTimestamp(), nanoseconds, _base.Paused);
    }

    /// <summary>Host time to wait for <paramref name="nanoseconds"/> of guest time (they are the same here).</summary>
    public static TimeSpan HostDelay(long nanoseconds) => TimeSpan.FromTicks(Math.Max(1, nanoseconds / 100));
}
