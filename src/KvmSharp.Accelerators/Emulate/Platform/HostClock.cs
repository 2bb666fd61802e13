using System.Diagnostics;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>Guest time that follows the host's monotonic clock from the moment the VM was created.</summary>
public sealed class HostClock : IGuestClock
{
    private readonly long _startTicks = Stopwatch.GetTimestamp();

    public long Nanoseconds
    {
        get
        {
            long elapsed = Stopwatch.GetTimestamp() - _startTicks;
            return (long)((Int128)elapsed * 1_000_000_000 / Stopwatch.Frequency);
        }
    }

    /// <summary>Host time to wait for <paramref name="nanoseconds"/> of guest time (they are the same here).</summary>
    public static TimeSpan HostDelay(long nanoseconds) => TimeSpan.FromTicks(Math.Max(1, nanoseconds / 100));
}
