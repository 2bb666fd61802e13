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
/// The clock a VM owns: it stands still while the machine is paused (guest time does not pass, so timers
/// and deadlines shift by the pause), and a restore sets it to the saved time so guest time stays monotonic.
/// </summary>
public interface IVmClock : IGuestClock
{
    /// <summary>Stops the clock at its current value (idempotent).</summary>
    void Pause();

    /// <summary>Lets the clock go on from where it stopped (idempotent).</summary>
    void Resume();

    /// <summary>Makes the clock read <paramref name="nanoseconds"/> now; it goes on (or stays paused) from there.</summary>
    void Set(long nanoseconds);
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
