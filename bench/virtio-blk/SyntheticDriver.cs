using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;
using KvmSharp.Native.Libc;

namespace KvmSharp.Bench.VirtioBlk;

/// <summary>
/// The guest side of one virtio-blk queue, as Linux's virtio_blk lays requests out: every request is one
/// indirect descriptor (virtio 1.2 §2.7.5.3) to a three-entry table (header, data, status), so all 256
/// slots of the queue can be in flight. Keeps the queue full: each completion is refilled at once.
/// </summary>
internal sealed class SyntheticDriver : IVirtioInterrupts, IDisposable
{
    public const ushort QueueSize = 256;
    private const ulong Desc = 0x0, Avail = 0x1000, Used = 0x2000, Indirect = 0x4000, Headers = 0x8000, Status = 0x9000, Data = 0x10_0000;

    private readonly SemaphoreSlim _completions = new(0);
    private readonly EventNotifier _notifier = new();
    private readonly VirtQueue _queue;
    private readonly int _blockSize;
    private ushort _availIdx;
    private ushort _lastUsed;
    private string? _broken;

    public SyntheticDriver(int blockSize)
    {
        _blockSize = blockSize;
        Memory = GuestMemory.Create(Data + (ulong)blockSize * QueueSize + (1 << 20));
        _queue = new VirtQueue(Memory);
        _queue.Enable(QueueSize, new GuestAddress(Desc), new GuestAddress(Avail), new GuestAddress(Used), eventIdx: false);
        for (ushort i = 0; i < QueueSize; i++)
        {
            ulong table = Indirect + 48ul * i;
            SetDescriptor(Desc + 16ul * i, table, 48, flags: 4, next: 0);
            SetDescriptor(table, Headers + 16ul * i, 16, flags: 1, next: 1);
            SetDescriptor(table + 32, Status + i, 1, flags: 2, next: 0);
        }
    }

    public GuestMemory Memory { get; }

    public void Activate(IVirtioDevice device) =>
        device.Activate(new VirtioActivation(Memory, VirtioFeatures.Version1 | VirtioFeatures.IndirectDescriptors | device.DeviceFeatures,
            [_queue], [_notifier], this));

    /// <summary>Runs requests from <paramref name="next"/> (type, sector) with <see cref="QueueSize"/> in flight for about <paramref name="duration"/>; returns requests done and seconds taken.</summary>
    public (long Requests, double Seconds) Run(Func<(uint Type, ulong Sector)> next, TimeSpan duration)
    {
        for (ushort i = 0; i < QueueSize; i++) Submit(i, next());
        _notifier.Signal();
        long done = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        bool draining = false;
        int inFlight = QueueSize;
        while (inFlight > 0)
        {
            if (!_completions.Wait(TimeSpan.FromSeconds(30))) throw new TimeoutException("the device stopped answering");
            if (_broken is not null) throw new InvalidOperationException($"device marked NEEDS_RESET: {_broken}");
            draining |= clock.Elapsed >= duration;
            ushort used = Memory.Read<ushort>(new GuestAddress(Used + 2));
            bool submitted = false;
            for (; _lastUsed != used; _lastUsed++)
            {
                ushort head = (ushort)Memory.Read<uint>(new GuestAddress(Used + 4 + 8ul * (ulong)(_lastUsed % QueueSize)));
                if (Memory.Read<byte>(new GuestAddress(Status + head)) != 0) throw new InvalidOperationException($"request {head} failed");
                done++;
                if (draining) { inFlight--; continue; }
                Submit(head, next());
                submitted = true;
            }
            if (submitted) _notifier.Signal();
        }
        return (done, clock.Elapsed.TotalSeconds);
    }

    private void Submit(ushort slot, (uint Type, ulong Sector) request)
    {
        Memory.Write(new GuestAddress(Headers + 16ul * slot), request.Type);
        Memory.Write(new GuestAddress(Headers + 16ul * slot + 8), request.Sector);
        Memory.Write(new GuestAddress(Status + slot), (byte)0xFF);
        ushort dataFlags = (ushort)(1 | (request.Type == 0 ? 2 : 0));   // NEXT, and WRITE for a read
        SetDescriptor(Indirect + 48ul * slot + 16, Data + (ulong)_blockSize * slot, (uint)_blockSize, dataFlags, next: 2);
        Memory.Write(new GuestAddress(Avail + 4 + 2ul * (ulong)(_availIdx % QueueSize)), slot);
        _availIdx++;
        Interlocked.MemoryBarrier();   // the ring entry and buffers before the idx that publishes them (§2.7.13)
        Memory.Write(new GuestAddress(Avail + 2), _availIdx);
    }

    private void SetDescriptor(ulong at, ulong address, uint length, ushort flags, ushort next)
    {
        Memory.Write(new GuestAddress(at), address);
        Memory.Write(new GuestAddress(at + 8), length);
        Memory.Write(new GuestAddress(at + 12), flags);
        Memory.Write(new GuestAddress(at + 14), next);
    }

    public void SignalQueue(int queue) => _completions.Release();
    public void SignalConfigChange() { }
    public void MarkNeedsReset(string reason) { _broken = reason; _completions.Release(); }

    public void Dispose()
    {
        _notifier.Dispose();
        Memory.Dispose();
    }
}
