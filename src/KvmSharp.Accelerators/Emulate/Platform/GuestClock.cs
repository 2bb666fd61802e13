namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// Guest time of the emulated platform in nanoseconds since the VM started: host time, or in
/// deterministic mode a function of the instructions retired, so that a boot is reproducible.
/// </summary>
public interface IGuestClock
{
    long Nanoseconds { get; }
}

/// <summary>
/// A device whose state changes at points in guest time (the PIT, a LAPIC timer). The platform calls
/// <see cref="Update"/> once the clock has passed <see cref="NextDeadline"/>; every call is made under
/// the platform lock.
/// </summary>
public interface ITimedDevice
{
    /// <summary>Guest nanoseconds of the next change; <see cref="long.MaxValue"/> while idle.</summary>
    long NextDeadline { get; }

    void Update(long nowNanoseconds);
}
