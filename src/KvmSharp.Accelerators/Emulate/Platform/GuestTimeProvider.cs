namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// Guest time as a <see cref="TimeProvider"/> for the machine layer's clocked devices (the ACPI PM
/// timer, the CMOS clock): with instruction-counted time they then advance with the guest, not the
/// host, and a run stays reproducible. Wall-clock time starts at the host's when the VM was created.
/// </summary>
public sealed class GuestTimeProvider(IGuestClock clock) : TimeProvider
{
    private DateTimeOffset _start = DateTimeOffset.UtcNow - TimeSpan.FromTicks(clock.Nanoseconds / 100);

    /// <summary>After the clock was set to a saved time: wall-clock time is the host's again, as at creation.</summary>
    public void Rebase() => _start = DateTimeOffset.UtcNow - TimeSpan.FromTicks(clock.Nanoseconds / 100);

    public override long TimestampFrequency => 1_000_000_000;

    public override long GetTimestamp() => clock.Nanoseconds;

    public override DateTimeOffset GetUtcNow() => _start + TimeSpan.FromTicks(clock.Nanoseconds / 100);
}
