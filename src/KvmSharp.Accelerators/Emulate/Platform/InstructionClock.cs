namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>Where a vCPU says how many instructions it has retired (read from other threads).</summary>
public interface IInstructionCounter
{
    ulong InstructionsRetired { get; }
}

/// <summary>
/// Deterministic guest time: every retired instruction is 2^shift nanoseconds (as QEMU's
/// <c>-icount shift=N</c>), plus the idle time skipped while every vCPU waited. With one vCPU a run
/// is reproducible: the same instructions see the same time and take their interrupts at the same
/// place. Idle time costs nothing: a vCPU that waits with all others waiting jumps the clock to the
/// next deadline instead of sleeping.
/// </summary>
public sealed class InstructionClock(int shift) : IVmClock
{
    public const int MaxShift = 10;

    private readonly List<IInstructionCounter> _counters = [];
    private IInstructionCounter[] _snapshot = [];
    private long _skipped;
    private volatile bool _paused;

    public int Shift { get; } = shift is >= 0 and <= MaxShift ? shift : throw new ArgumentOutOfRangeException(nameof(shift));

    public long Nanoseconds
    {
        get
        {
            ulong total = 0;
            foreach (var counter in _snapshot) total += counter.InstructionsRetired;
            return (long)(total << Shift) + Volatile.Read(ref _skipped);
        }
    }

    public void Add(IInstructionCounter counter)
    {
        lock (_counters)
        {
            _counters.Add(counter);
            _snapshot = [.. _counters];
        }
    }

    /// <summary>Moves the clock forward to <paramref name="nanoseconds"/> (never back): idle time that passed at once. Not while paused.</summary>
    public void AdvanceTo(long nanoseconds)
    {
        lock (_counters)
        {
            if (_paused) return;
            long gap = nanoseconds - Nanoseconds;
            if (gap > 0) Volatile.Write(ref _skipped, _skipped + gap);
        }
    }

    /// <summary>While paused no instruction retires and idle time is not skipped, so the clock stands still.</summary>
    public void Pause() => _paused = true;

    public void Resume() => _paused = false;

    /// <summary>
    /// Reads <paramref name="nanoseconds"/> from now on: the vCPUs' instruction counts stay as they are (they are
    /// not part of the saved state), and the skipped idle time takes up the difference.
    /// </summary>
    public void Set(long nanoseconds)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(nanoseconds);
        lock (_counters) Volatile.Write(ref _skipped, _skipped + (nanoseconds - Nanoseconds));
    }

    /// <summary>Instructions one vCPU runs (alone) before the clock reaches a point <paramref name="nanoseconds"/> away.</summary>
    public ulong InstructionsFor(long nanoseconds) =>
        nanoseconds <= 0 ? 0 : (ulong)((nanoseconds + (1L << Shift) - 1) >> Shift);
}
