namespace KvmSharp.Devices.Virtio.Balloon;

/// <summary>
/// virtio-balloon's own saved state: the target and actual sizes (config num_pages and actual), the statistics
/// buffer the device holds for the driver (its head, or -1) and the last statistics it parsed, and the counters.
/// Inflated pages need nothing: they were discarded, so they are holes in the memory file.
/// </summary>
public sealed record VirtioBalloonState
{
    public uint TargetPages { get; init; }
    public uint ActualPages { get; init; }

    /// <summary>The stats queue chain the device keeps until the host asks for fresh numbers (§5.5.6.3); -1 for none.</summary>
    public int HeldStatsHead { get; init; } = -1;

    public long StatisticsSequence { get; init; }
    public BalloonStatEntry[] Statistics { get; init; } = [];
    public long DiscardedPages { get; init; }
    public long InvalidPages { get; init; }
    public long DeflatedPages { get; init; }
}

/// <summary>One statistics entry as the driver sent it (§5.5.6.3: le16 tag, le64 value).</summary>
public sealed record BalloonStatEntry
{
    public ushort Tag { get; init; }
    public ulong Value { get; init; }
}
