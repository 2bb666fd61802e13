using System.Collections.Concurrent;
using KvmSharp.Devices.Virtio;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>The transport's side as a test sees it: which queues were signalled, and why the device said it is broken.</summary>
internal sealed class RecordingInterrupts : IVirtioInterrupts
{
    private readonly int[] _signals = new int[8];

    public ConcurrentQueue<string> NeedsReset { get; } = new();

    public int Signals(int queue) => Volatile.Read(ref _signals[queue]);

    public void SignalQueue(int queue) => Interlocked.Increment(ref _signals[queue]);
    public void SignalConfigChange() { }
    public void MarkNeedsReset(string reason) => NeedsReset.Enqueue(reason);
}
