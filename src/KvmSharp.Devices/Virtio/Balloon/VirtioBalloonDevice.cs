using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Balloon;

/// <summary>
/// virtio-balloon (virtio 1.2 §5.5): the host sets a target (<see cref="SetTargetPages"/>, config num_pages);
/// the driver inflates by giving pages on inflateq (queue 0), which go back to the host at once with
/// madvise(MADV_DONTNEED) (we do not offer VIRTIO_BALLOON_F_MUST_TELL_HOST, so the device may use them at
/// once, §5.5.6.1); deflateq (queue 1) needs no work, a page comes back zeroed when the guest touches it.
/// With VIRTIO_BALLOON_F_STATS_VQ the driver keeps one buffer of statistics on statsq (queue 2); the device
/// holds it and hands it back when the host wants fresh numbers (<see cref="RequestStatistics"/>), and the
/// driver refills and re-posts it (§5.5.6.3).
/// <para>
/// PFNs are guest input: each must name a whole 4 KiB page of guest RAM (§5.5.6: PFNs are in 4096-byte units
/// whatever the guest's page size); others are skipped and counted, never trusted.
/// </para>
/// </summary>
public sealed partial class VirtioBalloonDevice(Action<string> notice) : QueueServingDevice("virtio-balloon", notice)
{
    /// <summary>VIRTIO_BALLOON_F_STATS_VQ (bit 1).</summary>
    public const ulong FeatureStatsQueue = 1UL << 1;

    /// <summary>VIRTIO_BALLOON_F_DEFLATE_ON_OOM (bit 2): the driver may deflate under memory pressure; nothing for the device to do.</summary>
    public const ulong FeatureDeflateOnOom = 1UL << 2;

    public const int InflateQueue = 0;
    public const int DeflateQueue = 1;
    public const int StatsQueue = 2;

    /// <summary>The balloon's page unit, independent of the guest's page size (§5.5.6).</summary>
    public const ulong PageSize = 4096;

    /// <summary>
    /// Most PFNs taken from one chain (Linux sends at most 256); the rest are skipped and counted, so one
    /// request cannot keep the device thread busy for long.
    /// </summary>
    public const int MaxPagesPerRequest = 4096;

    private const ushort QueueSize = 128;
    private const int ChunkPfns = 256;

    private readonly Lock _configLock = new();
    private uint _targetPages;
    private uint _actualPages;
    private long _discardedPages;
    private long _invalidPages;
    private long _deflatedPages;
    private long _statsSequence;
    private BalloonStatistics _statistics = BalloonStatistics.None;
    private int _heldStatsHead = -1;
    private int _saidInvalid;

    public override VirtioDeviceType DeviceType => VirtioDeviceType.Balloon;
    public override ulong DeviceFeatures => FeatureStatsQueue | FeatureDeflateOnOom;
    public override IReadOnlyList<ushort> QueueSizes { get; } = [QueueSize, QueueSize, QueueSize];

    /// <summary>num_pages and actual (§5.5.4); the other fields need features we do not offer.</summary>
    public override int ConfigSize => 8;

    /// <summary>The host's target balloon size in 4 KiB pages (config num_pages).</summary>
    public uint TargetPages { get { lock (_configLock) return _targetPages; } }

    /// <summary>The pages the driver says the balloon holds (config actual, driver-written).</summary>
    public uint ActualPages { get { lock (_configLock) return _actualPages; } }

    /// <summary>Inflated pages returned to the host.</summary>
    public long DiscardedPages => Interlocked.Read(ref _discardedPages);

    /// <summary>PFNs skipped: outside guest RAM, beyond <see cref="MaxPagesPerRequest"/>, or a partial 4-byte entry.</summary>
    public long InvalidPages => Interlocked.Read(ref _invalidPages);

    /// <summary>Whole PFNs the driver took back through deflateq.</summary>
    public long DeflatedPages => Interlocked.Read(ref _deflatedPages);

    /// <summary>The latest statistics the driver sent; <see cref="BalloonStatistics.None"/> before the first.</summary>
    public BalloonStatistics Statistics => Volatile.Read(ref _statistics);

    /// <summary>Sets the target (any thread) and tells a running driver with a configuration change (§5.5.6.2).</summary>
    public void SetTargetPages(uint pages)
    {
        lock (_configLock) _targetPages = pages;
        Activation?.Interrupts.SignalConfigChange();
    }

    /// <summary>
    /// Asks the driver for fresh statistics (any thread): the held stats buffer goes back to the driver, which
    /// refills it; <see cref="Statistics"/> changes when it comes back. False when the device is not running.
    /// </summary>
    public bool RequestStatistics() => Post(ReturnStatsBuffer);

    public override void ReadConfig(int offset, Span<byte> data)
    {
        Span<byte> config = stackalloc byte[8];
        lock (_configLock)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(config, _targetPages);
            BinaryPrimitives.WriteUInt32LittleEndian(config[4..], _actualPages);
        }
        config.Slice(offset, data.Length).CopyTo(data);
    }

    public override void WriteConfig(int offset, ReadOnlySpan<byte> data)
    {
        // Only actual is the driver's to write (§5.5.6: "The driver MUST NOT write to num_pages"); keep its
        // bytes that fall in [4, 8), so a partial write changes only the bytes it covers.
        lock (_configLock)
        {
            Span<byte> actual = stackalloc byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(actual, _actualPages);
            for (int i = 0; i < data.Length; i++)
                if (offset + i is >= 4 and < 8) actual[offset + i - 4] = data[i];
            _actualPages = BinaryPrimitives.ReadUInt32LittleEndian(actual);
        }
    }

    protected override void OnReset()
    {
        _heldStatsHead = -1;
        lock (_configLock) _actualPages = 0;
    }

    protected override void ServeQueue(int queue)
    {
        var activation = Activation!;
        var q = activation.Queues[queue];
        bool any = false;
        while (!IsBroken && !PauseRequested && q.TryPopAvailable(out var chain))
        {
            switch (queue)
            {
                case InflateQueue: Interlocked.Add(ref _discardedPages, ForEachPfn(ref chain, activation.Memory, discard: true)); break;
                case DeflateQueue: Interlocked.Add(ref _deflatedPages, ForEachPfn(ref chain, activation.Memory, discard: false)); break;
                default: TakeStats(ref chain, activation); continue;   // held, not used yet
            }
            q.AddUsed(chain.Head, 0);
            any = true;
        }
        if (any) activation.NotifyUsed(queue);
    }

    /// <summary>Walks the chain's le32 PFNs; returns the valid ones (discarded when inflating). Writable buffers carry nothing.</summary>
    private long ForEachPfn(ref DescriptorChain chain, GuestMemory memory, bool discard)
    {
        Span<byte> chunk = stackalloc byte[ChunkPfns * 4];
        long valid = 0, invalid = 0, budget = MaxPagesPerRequest;
        while (chain.TryNext(out var buffer))
        {
            if (buffer.IsWritable) continue;
            ulong pfns = buffer.Length / 4;
            invalid += buffer.Length % 4 == 0 ? 0 : 1;
            for (ulong done = 0; done < pfns; )
            {
                int n = (int)Math.Min(pfns - done, ChunkPfns);
                if (budget == 0) { invalid += (long)(pfns - done); break; }
                n = (int)Math.Min(n, budget);
                var bytes = chunk[..(n * 4)];
                memory.Read(buffer.Address + done * 4, bytes);
                for (int i = 0; i < n; i++)
                {
                    var page = new GuestAddress(BinaryPrimitives.ReadUInt32LittleEndian(bytes[(i * 4)..]) * PageSize);
                    if (!memory.IsValidRange(page, PageSize)) { invalid++; continue; }
                    if (discard) memory.Discard(page, PageSize);
                    valid++;
                }
                done += (ulong)n;
                budget -= n;
            }
        }
        Interlocked.Add(ref _invalidPages, invalid);
        if (invalid > 0) NoticeOnce(ref _saidInvalid, "the driver gave PFNs that are not guest RAM; they were skipped (said once)");
        return valid;
    }

    /// <summary>Parses a stats buffer and holds its chain until the host asks again (§5.5.6.3).</summary>
    private void TakeStats(ref DescriptorChain chain, VirtioActivation activation)
    {
        Span<byte> stats = stackalloc byte[BalloonStatistics.MaxEntries * BalloonStatistics.EntrySize];
        int length = 0;
        while (chain.TryNext(out var buffer))
        {
            if (buffer.IsWritable) continue;
            int n = (int)Math.Min(buffer.Length, (uint)(stats.Length - length));
            activation.Memory.Read(buffer.Address, stats.Slice(length, n));
            length += n;
        }
        // A driver posts one buffer at a time; if it posts another, the older one goes back so none is lost.
        if (_heldStatsHead >= 0) ReturnStatsBuffer();
        _heldStatsHead = chain.Head;
        Volatile.Write(ref _statistics, BalloonStatistics.Parse(stats[..length], ++_statsSequence));
    }

    private void ReturnStatsBuffer()
    {
        if (IsBroken || _heldStatsHead < 0 || Activation is not { } activation) return;
        var q = activation.Queues[StatsQueue];
        if (_heldStatsHead >= q.Size)
        {
            Fail($"the held statistics buffer {_heldStatsHead} is not in the {q.Size}-entry stats queue");   // only a restored state can say so
            return;
        }
        try
        {
            q.AddUsed((ushort)_heldStatsHead, 0);
            _heldStatsHead = -1;
            activation.NotifyUsed(StatsQueue);
        }
        catch (VirtQueueException e) { Fail(e); }
    }
}
