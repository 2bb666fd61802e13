using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.Balloon;

/// <summary>Save and restore (<see cref="VirtioBalloonState"/>).</summary>
public sealed partial class VirtioBalloonDevice : IStateful<VirtioBalloonState>
{
    /// <summary>Call while paused: the held stats head and the counters belong to the device thread.</summary>
    public VirtioBalloonState SaveState()
    {
        var statistics = Statistics;
        lock (_configLock)
            return new VirtioBalloonState
            {
                TargetPages = _targetPages,
                ActualPages = _actualPages,
                HeldStatsHead = _heldStatsHead,
                StatisticsSequence = statistics.Sequence,
                Statistics = [.. statistics.Entries.Select(e => new BalloonStatEntry { Tag = e.Tag, Value = e.Value })],
                DiscardedPages = DiscardedPages,
                InvalidPages = InvalidPages,
                DeflatedPages = DeflatedPages,
            };
    }

    /// <summary>
    /// Loads <paramref name="state"/> into a device that is not running yet (before the transport's restore starts it).
    /// The held stats head is checked against the queue's largest size here and against its real size when it is
    /// handed back.
    /// </summary>
    public void RestoreState(VirtioBalloonState state)
    {
        StateCheck.NotNull(state, "balloon");
        StateCheck.InRange(state.HeldStatsHead, -1, QueueSizes[StatsQueue] - 1, "balloon.HeldStatsHead");
        StateCheck.InRange(state.StatisticsSequence, 0, long.MaxValue, "balloon.StatisticsSequence");
        var entries = StateCheck.LengthAtMost(state.Statistics, BalloonStatistics.MaxEntries, "balloon.Statistics");
        foreach (var entry in entries) StateCheck.NotNull(entry, "balloon.Statistics[]");
        StateCheck.InRange(state.DiscardedPages, 0, long.MaxValue, "balloon.DiscardedPages");
        StateCheck.InRange(state.InvalidPages, 0, long.MaxValue, "balloon.InvalidPages");
        StateCheck.InRange(state.DeflatedPages, 0, long.MaxValue, "balloon.DeflatedPages");
        lock (_configLock)
        {
            _targetPages = state.TargetPages;
            _actualPages = state.ActualPages;
        }
        _heldStatsHead = state.HeldStatsHead;
        _statsSequence = state.StatisticsSequence;
        Volatile.Write(ref _statistics, state.StatisticsSequence == 0 && entries.Length == 0
            ? BalloonStatistics.None
            : BalloonStatistics.FromEntries(entries.Select(e => (e.Tag, e.Value)), state.StatisticsSequence));
        Interlocked.Exchange(ref _discardedPages, state.DiscardedPages);
        Interlocked.Exchange(ref _invalidPages, state.InvalidPages);
        Interlocked.Exchange(ref _deflatedPages, state.DeflatedPages);
    }
}
