using System.Collections.Concurrent;
using KvmSharp.Devices.Virtio;

namespace KvmSharp.Tests.Devices.Virtio;

/// <summary>
/// The transport's side of a running device as a test sees it: which queues were signalled, config changes,
/// and why the device said it needs a reset. <see cref="Wait"/> blocks until the device signals or breaks.
/// </summary>
internal sealed class RecordingInterrupts : IVirtioInterrupts
{
    private readonly int[] _queueSignals = new int[8];
    private readonly SemaphoreSlim _events = new(0);
    private int _configChanges;

    public ConcurrentQueue<string> NeedsReset { get; } = new();

    /// <summary>The first NEEDS_RESET reason, or null when the device never broke.</summary>
    public string? NeedsResetReason => NeedsReset.TryPeek(out var reason) ? reason : null;

    /// <summary>Config change notifications, NEEDS_RESET's included (the transport sends one with it).</summary>
    public int ConfigChanges => Volatile.Read(ref _configChanges);

    public int QueueSignals(int queue) => Volatile.Read(ref _queueSignals[queue]);

    public void SignalQueue(int queue)
    {
        Interlocked.Increment(ref _queueSignals[queue]);
        _events.Release();
    }

    public void SignalConfigChange() => Interlocked.Increment(ref _configChanges);

    public void MarkNeedsReset(string reason)
    {
        NeedsReset.Enqueue(reason);
        Interlocked.Increment(ref _configChanges);
        _events.Release();
    }

    /// <summary>Waits for the next queue signal or NEEDS_RESET; a device that neither answers nor breaks fails the test instead of hanging it.</summary>
    public void Wait() => Assert.True(_events.Wait(TimeSpan.FromSeconds(20)), "the device neither completed the request nor marked itself broken");
}
