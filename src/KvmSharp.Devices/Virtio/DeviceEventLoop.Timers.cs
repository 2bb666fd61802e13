using KvmSharp.Devices.Virtio.RateLimiting;

namespace KvmSharp.Devices.Virtio;

/// <summary>
/// One-shot timers on the loop thread, for a device that must wait without spinning (a rate limiter out of tokens):
/// poll(2) sleeps no longer than the earliest armed timer, and a due timer's action runs after the round's handlers.
/// A paused loop runs no timer; one that fell due meanwhile runs in the first round after the resume.
/// </summary>
public sealed partial class DeviceEventLoop
{
    private readonly List<DeviceTimer> _timers = [];

    /// <summary>A timer that runs <paramref name="onDue"/> on the loop thread when armed and due (loop thread, or before Start).</summary>
    public DeviceTimer CreateTimer(Action onDue)
    {
        CheckThread();
        var timer = new DeviceTimer(this, onDue);
        _timers.Add(timer);
        return timer;
    }

    private int PollTimeoutMs()
    {
        long earliest = long.MaxValue;
        foreach (var t in _timers)
            if (t.IsArmed && t.DueNs < earliest) earliest = t.DueNs;
        if (earliest == long.MaxValue) return -1;
        long left = earliest - RateLimiter.MonotonicNs();
        if (left <= 0) return 0;
        // Round up so the loop never wakes just before the timer and polls again with 0 ms to spare.
        return (int)Math.Min((left + 999_999) / 1_000_000, int.MaxValue);
    }

    private void RunDueTimers()
    {
        if (_timers.Count == 0) return;
        long now = RateLimiter.MonotonicNs();
        foreach (var t in _timers)
        {
            if (_stopping || !t.IsArmed || t.DueNs > now) continue;
            t.Disarm();
            try { t.OnDue(); }
            catch (Exception e) { _onFault(e); }
        }
    }

    internal void CheckTimerThread() => CheckThread();
}

/// <summary>A one-shot timer of a <see cref="DeviceEventLoop"/>; arm and disarm it on the loop thread.</summary>
public sealed class DeviceTimer
{
    private readonly DeviceEventLoop _loop;

    internal DeviceTimer(DeviceEventLoop loop, Action onDue)
    {
        _loop = loop;
        OnDue = onDue;
    }

    internal Action OnDue { get; }
    internal long DueNs { get; private set; }
    public bool IsArmed { get; private set; }

    /// <summary>Runs the action <paramref name="delayNs"/> ns from now, or sooner if already armed for sooner.</summary>
    public void Arm(long delayNs)
    {
        _loop.CheckTimerThread();
        long due = RateLimiter.MonotonicNs() + Math.Max(0, delayNs);
        if (!IsArmed || due < DueNs) DueNs = due;
        IsArmed = true;
    }

    public void Disarm() => IsArmed = false;
}
