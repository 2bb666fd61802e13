namespace KvmSharp.Devices.Virtio.Net;

/// <summary>What a NIC counted: frames passed, and frames dropped with the reason class. Written by the device thread, readable from any.</summary>
public sealed class NetStatistics
{
    private long _txFrames, _txDropped, _txErrors, _rxFrames, _rxDropped, _rxErrors, _hostWakeups;

    /// <summary>Frames sent to the host.</summary>
    public long TxFrames => Volatile.Read(ref _txFrames);
    /// <summary>Malformed tx chains (shorter than the header, longer than a frame, with a device-writable buffer).</summary>
    public long TxDropped => Volatile.Read(ref _txDropped);
    /// <summary>Frames the host refused (the tap's queue full, the link down).</summary>
    public long TxErrors => Volatile.Read(ref _txErrors);
    /// <summary>Frames delivered to the driver.</summary>
    public long RxFrames => Volatile.Read(ref _rxFrames);
    /// <summary>Frames from the host that did not fit the driver's buffers, or came without a whole header.</summary>
    public long RxDropped => Volatile.Read(ref _rxDropped);
    /// <summary>Malformed rx chains (a device-readable buffer, or less room than the header) handed back empty, and host read errors.</summary>
    public long RxErrors => Volatile.Read(ref _rxErrors);

    /// <summary>Times the loop woke because the host side was readable; it must not grow while the driver gives no rx buffers.</summary>
    public long HostWakeups => Volatile.Read(ref _hostWakeups);

    internal void CountTxFrame() => Interlocked.Increment(ref _txFrames);
    internal void CountTxDropped() => Interlocked.Increment(ref _txDropped);
    internal void CountTxError() => Interlocked.Increment(ref _txErrors);
    internal void CountRxFrame() => Interlocked.Increment(ref _rxFrames);
    internal void CountRxDropped() => Interlocked.Increment(ref _rxDropped);
    internal void CountRxError() => Interlocked.Increment(ref _rxErrors);
    internal void CountHostWakeup() => Interlocked.Increment(ref _hostWakeups);
}
