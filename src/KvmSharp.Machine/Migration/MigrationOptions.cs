namespace KvmSharp.Machine.Migration;

/// <summary>How a live migration runs (QEMU's downtime-limit and a bound on pre-copy rounds).</summary>
public sealed record MigrationOptions
{
    /// <summary>The longest the guest may be stopped for the last pages and the state: pre-copy ends once the rest fits.</summary>
    public TimeSpan DowntimeBudget { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>Pre-copy rounds after the first full pass before the source stops anyway (a guest that dirties faster than the link).</summary>
    public int MaxRounds { get; init; } = 30;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long one send may block, and how long the source waits for the destination's answer to the header.</summary>
    public TimeSpan IoTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the source, stopped, waits for the destination to say the machine runs there.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
