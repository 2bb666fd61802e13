using KvmSharp.Devices.Virtio.Queue;

namespace KvmSharp.Devices.Virtio.Entropy;

/// <summary>
/// virtio-rng (virtio 1.2 §5.4): one request queue; the driver posts writable buffers and the device fills
/// them with host entropy (getrandom(2), <see cref="HostEntropy"/>). No features, no configuration.
/// <para>
/// Each chain gets at most <see cref="MaxBytesPerRequest"/> bytes (§5.4.6.1 lets the device write less than
/// the buffers hold; the used length says how much). A chain with a device-readable buffer is not a request
/// the spec defines (§5.4.6: the requestq carries only device-writable buffers), so it is answered with 0
/// bytes rather than marking the device broken; Linux never sends one.
/// </para>
/// </summary>
public sealed class VirtioEntropyDevice(Action<string> notice) : QueueServingDevice("virtio-rng", notice)
{
    /// <summary>Most bytes per request: Linux asks for at most a page or so at a time, and this bounds one guest's draw.</summary>
    public const int MaxBytesPerRequest = 64 * 1024;

    private const ushort QueueSize = 64;
    private long _bytesProvided;
    private long _rejectedRequests;
    private int _saidRejected;

    public override VirtioDeviceType DeviceType => VirtioDeviceType.Entropy;
    public override ulong DeviceFeatures => 0;
    public override IReadOnlyList<ushort> QueueSizes { get; } = [QueueSize];
    public override int ConfigSize => 0;

    /// <summary>Host entropy bytes handed to the guest so far.</summary>
    public long BytesProvided => Interlocked.Read(ref _bytesProvided);

    /// <summary>Chains answered with 0 bytes because they held a device-readable buffer.</summary>
    public long RejectedRequests => Interlocked.Read(ref _rejectedRequests);

    public override void ReadConfig(int offset, Span<byte> data) => data.Clear();
    public override void WriteConfig(int offset, ReadOnlySpan<byte> data) { }

    protected override void ServeQueue(int queue)
    {
        var activation = Activation!;
        var requests = activation.Queues[queue];
        bool any = false;
        while (!IsBroken && !PauseRequested && requests.TryPopAvailable(out var chain))
        {
            requests.AddUsed(chain.Head, Fill(ref chain, activation));
            any = true;
        }
        if (any) activation.NotifyUsed(queue);
    }

    private uint Fill(ref DescriptorChain chain, VirtioActivation activation)
    {
        bool readable = false;
        int written = 0;
        // Walk the whole chain even after the budget is spent: a malformed tail is still a malformed queue.
        while (chain.TryNext(out var buffer))
        {
            if (!buffer.IsWritable) { readable = true; continue; }
            int n = (int)Math.Min(buffer.Length, (uint)(MaxBytesPerRequest - written));
            if (readable || n == 0) continue;
            HostEntropy.Fill(activation.Memory.GetSpan(buffer.Address, n));
            written += n;
        }
        if (readable)
        {
            Interlocked.Increment(ref _rejectedRequests);
            NoticeOnce(ref _saidRejected, "a request with a device-readable buffer got 0 bytes (said once)");
            return 0;
        }
        Interlocked.Add(ref _bytesProvided, written);
        return (uint)written;
    }
}
