namespace KvmSharp.Machine.Migration;

public enum MigrationState
{
    /// <summary>No migration was asked for.</summary>
    None,
    Active,
    /// <summary>The destination runs the machine; the source has stopped.</summary>
    Completed,
    /// <summary>The last migration failed; the source runs on. <see cref="MigrationStatus.Error"/> says why.</summary>
    Failed,
}

/// <summary>A migration's progress, readable while it runs (GET /migrate).</summary>
public sealed record MigrationStatus
{
    public MigrationState State { get; init; }

    /// <summary>Bytes written to the destination so far.</summary>
    public long BytesSent { get; init; }

    /// <summary>Pre-copy rounds done, the first full pass included.</summary>
    public int Iterations { get; init; }

    /// <summary>Pages the guest dirtied per second in the last round.</summary>
    public double DirtyRatePagesPerSecond { get; init; }

    /// <summary>How long stopping now would take: the dirty pages left over the measured bandwidth.</summary>
    public double ExpectedDowntimeMs { get; init; }

    /// <summary>Bytes per second the link took in the last round.</summary>
    public double BandwidthBytesPerSecond { get; init; }

    /// <summary>Set when completed: from the start to the destination's answer.</summary>
    public TimeSpan? TotalTime { get; init; }

    /// <summary>Set when completed: from the source's last pause to the destination's answer that it runs.</summary>
    public TimeSpan? Downtime { get; init; }

    public string? Error { get; init; }

    public static MigrationStatus None { get; } = new();
}
