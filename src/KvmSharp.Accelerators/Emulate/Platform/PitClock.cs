namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The 8254's input clock, 1.193182 MHz (a PC's 14.31818 MHz crystal divided by 12; Linux's
/// PIT_TICK_RATE), as a free-running tick count of guest time: tick k begins at the first nanosecond
/// where floor(ns × f / 10⁹) reaches k. Exact integer arithmetic, no overflow for any non-negative time.
/// </summary>
public static class PitClock
{
    public const long Frequency = 1_193_182;
    private const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>The clock edges counted from time 0 to <paramref name="nanoseconds"/>.</summary>
    public static long TickAt(long nanoseconds)
    {
        if (nanoseconds <= 0)
            return 0;
        long seconds = nanoseconds / NanosecondsPerSecond, rest = nanoseconds % NanosecondsPerSecond;
        return seconds * Frequency + rest * Frequency / NanosecondsPerSecond;
    }

    /// <summary>The first nanosecond at which <see cref="TickAt"/> reaches <paramref name="tick"/>.</summary>
    public static long TimeOfTick(long tick)
    {
        if (tick <= 0)
            return 0;
        long seconds = tick / Frequency, rest = tick % Frequency;
        if (seconds >= long.MaxValue / NanosecondsPerSecond)
            return long.MaxValue;
        return seconds * NanosecondsPerSecond + (rest * NanosecondsPerSecond + Frequency - 1) / Frequency;
    }
}
