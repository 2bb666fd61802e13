using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Native.Libc;

namespace KvmSharp.Devices.Virtio.Vsock;

/// <summary>The event queue (virtio 1.2 §5.10.6.6), and giving back a held rx buffer when the device pauses.</summary>
internal sealed partial class VsockMuxer
{
    public const int EventQueue = 2;

    /// <summary>VIRTIO_VSOCK_EVENT_TRANSPORT_RESET (§5.10.6.6): struct virtio_vsock_event { le32 id; }.</summary>
    private const uint TransportResetEvent = 0;
    private const int EventSize = 4;

    private bool _transportResetPending;

    /// <summary>Watches the event queue's notifier (the driver posting event buffers); with <see cref="Start"/>.</summary>
    private void WatchEvents() =>
        _loop.Watch(_activation.Notifiers[EventQueue].Handle, LibcConstants.POLLIN, _ => Serve(() =>
        {
            _activation.Notifiers[EventQueue].Drain();
            PumpEvents();
        }));

    /// <summary>
    /// Tells the driver that every connection it had is gone (a restored machine: host sockets cannot move with a
    /// snapshot, as in Firecracker). Linux then resets all its vsock sockets and re-reads guest_cid. Sent as soon as
    /// the driver has an event buffer posted; before the loop starts or on it.
    /// </summary>
    public void QueueTransportReset() => _transportResetPending = true;

    private void PumpEvents()
    {
        if (!_transportResetPending) return;
        var queue = _activation.Queues[EventQueue];
        if (!queue.IsReady || !queue.TryPopAvailable(out var chain)) return;
        Span<byte> raw = stackalloc byte[EventSize];
        BinaryPrimitives.WriteUInt32LittleEndian(raw, TransportResetEvent);
        int written = 0;
        while (written < EventSize && chain.TryNext(out var buffer))
        {
            if (!buffer.IsWritable) throw new VirtQueueException("vsock event buffer is device-readable");
            int take = (int)Math.Min(buffer.Length, (uint)(EventSize - written));
            if (!_activation.Memory.TryWrite(buffer.Address, raw.Slice(written, take)))
                throw new VirtQueueException($"vsock event buffer at {buffer.Address} is outside guest RAM");
            written += take;
        }
        if (written < EventSize) throw new VirtQueueException($"vsock event buffer of {written} bytes cannot hold an event");
        queue.AddUsed(chain.Head, EventSize);
        _transportResetPending = false;
        _activation.NotifyUsed(EventQueue);
    }

    /// <summary>
    /// For a pause (the loop is parked): an rx buffer taken but not filled goes back to the driver ring unused. It is
    /// always the latest rx pop: a new one is taken only when none is held.
    /// </summary>
    public void GiveBackRxBuffer()
    {
        if (!_holdingRx) return;
        _activation.Queues[RxQueue].UndoPop(1);
        _holdingRx = false;
    }
}
