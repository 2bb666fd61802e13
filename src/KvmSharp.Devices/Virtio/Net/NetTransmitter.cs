using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Net;

/// <summary>
/// The transmit queue (virtio 1.2 §5.1.6.2): each chain is a virtio_net_hdr_v1 and a frame, all
/// device-readable, gathered into one reusable buffer and written to the backend as one frame. A malformed
/// chain is handed back unsent and counted; only a malformed queue (a <see cref="VirtQueueException"/>) goes further.
/// </summary>
internal sealed class NetTransmitter(NetStatistics statistics)
{
    private readonly byte[] _frame = new byte[NetFrame.BufferLength];

    /// <summary>The errno of the last frame the backend refused, 0 if none has been.</summary>
    public int LastSendError { get; private set; }

    /// <summary>
    /// Sends every chain the driver made available; true when any went back to the used ring. When
    /// <paramref name="limiter"/> has no room for a frame, the chain goes back to the ring unsent and
    /// <paramref name="waitNs"/> says when to try again (else 0).
    /// </summary>
    public bool Serve(VirtQueue queue, GuestMemory memory, INetBackend backend, RateLimiter limiter, out long waitNs)
    {
        bool used = false;
        waitNs = 0;
        while (queue.TryPopAvailable(out var chain))
        {
            int length = Gather(ref chain, memory);
            if (length >= NetFrame.HeaderLength && !limiter.TryConsume((ulong)(length - NetFrame.HeaderLength), out waitNs))
            {
                queue.UndoPop(1);   // gathered but unsent: it is read again when the limiter has room
                break;
            }
            if (length < NetFrame.HeaderLength) statistics.CountTxDropped();
            else if (backend.Send(_frame.AsSpan(0, length)) is < 0 and var error) { statistics.CountTxError(); LastSendError = -error; }
            else statistics.CountTxFrame();
            // The device writes nothing into a tx chain, so its used length is 0 (§5.1.6.2.1).
            queue.AddUsed(chain.Head, 0);
            used = true;
        }
        return used;
    }

    /// <summary>The chain's bytes in <see cref="_frame"/>, or -1 for a chain with a writable buffer or more than a frame's bytes.</summary>
    private int Gather(ref DescriptorChain chain, GuestMemory memory)
    {
        int length = 0;
        while (chain.TryNext(out var descriptor))
        {
            // §5.1.6.2: tx buffers are device-readable; the limit also bounds every copy by our buffer.
            if (descriptor.IsWritable || descriptor.Length > (uint)(_frame.Length - length)) return -1;
            memory.Read(descriptor.Address, _frame.AsSpan(length, (int)descriptor.Length));
            length += (int)descriptor.Length;
        }
        return length;
    }
}
