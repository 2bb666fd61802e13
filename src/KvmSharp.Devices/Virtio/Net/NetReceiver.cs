using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Net;

/// <summary>
/// The receive queue (virtio 1.2 §5.1.6.3–§5.1.6.4): frames from the backend, each behind its header, into
/// the driver's device-writable chains. Without MRG_RXBUF a frame takes one chain; with it, as many as it
/// needs, and the header's num_buffers says how many (§5.1.6.4).
/// <para>
/// Chains are popped before a frame is read and kept until a frame fills them, so a frame read from the
/// backend always has somewhere to go or is dropped on purpose (too big for the chains the driver gives,
/// counted), and no frame is read while the driver has given no buffers: the device stops polling the
/// backend until the driver's next rx notification. Nothing is allocated per frame.
/// </para>
/// </summary>
internal sealed class NetReceiver(NetStatistics statistics)
{
    /// <summary>Why <see cref="Serve"/> stopped.</summary>
    public enum Outcome
    {
        /// <summary>The host has no more frames now: keep polling it.</summary>
        HostDrained,
        /// <summary>The driver's rx buffers ran out: stop polling the host until it notifies rx.</summary>
        NeedBuffers,
        /// <summary>Reading the host failed (<see cref="HostError"/>): stop polling it, it will not get better.</summary>
        HostFailed,
        /// <summary>The rate limiter has no room for the frame read: it is held until <see cref="WaitNs"/> has passed.</summary>
        RateLimited,
    }

    /// <summary>After <see cref="Outcome.RateLimited"/>: ns until the held frame would fit.</summary>
    public long WaitNs { get; private set; }

    /// <summary>The errno of the failed read when <see cref="Serve"/> says <see cref="Outcome.HostFailed"/>.</summary>
    public int HostError { get; private set; }

    /// <summary>Chains held for one frame at most: 64 KiB in Linux's smallest mergeable buffers (~1.5 KiB) takes ~45.</summary>
    private const int MaxChains = 256;
    /// <summary>Descriptors kept over all held chains; a longer chain is used only as far as its first ones.</summary>
    private const int MaxDescriptors = 1024;
    /// <summary>Frames per call, so a busy backend does not keep the loop from the transmit queue.</summary>
    private const int FramesPerCall = 64;

    private readonly byte[] _frame = new byte[NetFrame.BufferLength];
    private readonly ushort[] _heads = new ushort[MaxChains];
    private readonly int[] _firstDescriptor = new int[MaxChains];
    private readonly uint[] _capacity = new uint[MaxChains];
    private readonly uint[] _popNumber = new uint[MaxChains];   // which pop (counting every chain taken) each held chain was
    private readonly Descriptor[] _descriptors = new Descriptor[MaxDescriptors];
    private int _chains;
    private int _descriptorCount;
    private int _pending;
    private bool _pendingCharged;   // the pending frame has been charged to the rate limiter
    private uint _pops;

    /// <summary>Forgets the frame and chains held (device reset: the driver takes its buffers back, §2.4).</summary>
    public void Reset() => _chains = _descriptorCount = _pending = 0;

    /// <summary>
    /// Lets go of everything held, for a pause: a frame read but not yet delivered is dropped (counted), and the
    /// held chains go back to the driver ring unused when they were the latest chains taken (the usual case: the
    /// device holds the next buffer while it waits for a frame), else they are returned with 0 bytes, which a
    /// driver counts as a short frame and reposts. <paramref name="used"/>: a used entry was written.
    /// </summary>
    public void GiveBack(VirtQueue queue, out bool used)
    {
        used = false;
        if (_pending > 0) Drop();
        if (_chains == 0) return;
        if (_popNumber[0] == _pops - (uint)_chains)
            queue.UndoPop(_chains);
        else
        {
            for (int c = 0; c < _chains; c++) queue.AddUsed(_heads[c], 0);
            used = true;
        }
        _chains = _descriptorCount = 0;
    }

    /// <summary>Moves frames from the backend to the driver until one side runs out. <paramref name="used"/>: a chain went back.</summary>
    public Outcome Serve(VirtQueue queue, GuestMemory memory, INetBackend backend, bool mergeable, RateLimiter limiter, out bool used)
    {
        used = false;
        for (int frames = 0; frames < FramesPerCall; frames++)
        {
            if (_pending == 0)
            {
                if (_chains == 0 && !TryTakeChain(queue, ref used)) return Outcome.NeedBuffers;
                int length = backend.Receive(_frame);
                if (length == 0) return Outcome.HostDrained;
                if (length < 0)
                {
                    statistics.CountRxError();
                    HostError = -length;
                    return Outcome.HostFailed;
                }
                if (length < NetFrame.HeaderLength) { statistics.CountRxDropped(); continue; }
                _pending = length;
                _pendingCharged = false;
            }
            if (!_pendingCharged)
            {
                // Charged once, before delivery; a frame that waits keeps its place (Firecracker defers it likewise).
                if (!limiter.TryConsume((ulong)(_pending - NetFrame.HeaderLength), out long waitNs))
                {
                    WaitNs = waitNs;
                    return Outcome.RateLimited;
                }
                _pendingCharged = true;
            }
            if (!TryDeliver(queue, memory, mergeable, ref used)) return Outcome.NeedBuffers;
        }
        return Outcome.HostDrained;   // the loop polls again: the host side is still readable if it has more
    }

    /// <summary>Puts the pending frame into held chains, taking more as needed; false when the driver has too few buffers yet.</summary>
    private bool TryDeliver(VirtQueue queue, GuestMemory memory, bool mergeable, ref bool used)
    {
        int chainsNeeded = 0;
        ulong room = 0;
        while (room < (ulong)_pending)
        {
            if (chainsNeeded == _chains)
            {
                // Without MRG_RXBUF a frame has one chain only (§5.1.6.4); with it, our hold is bounded.
                bool full = mergeable ? _chains == MaxChains || _descriptorCount == MaxDescriptors : _chains == 1;
                if (full) { Drop(); return true; }
                if (!TryTakeChain(queue, ref used)) return false;
            }
            room += _capacity[chainsNeeded++];
        }

        BinaryPrimitives.WriteUInt16LittleEndian(_frame.AsSpan(NetFrame.NumBuffersOffset), (ushort)chainsNeeded);
        int copied = 0;
        for (int c = 0; c < chainsNeeded; c++)
        {
            uint written = 0;
            int end = c + 1 < _chains ? _firstDescriptor[c + 1] : _descriptorCount;
            for (int d = _firstDescriptor[c]; d < end && copied < _pending; d++)
            {
                int part = (int)Math.Min(_descriptors[d].Length, (uint)(_pending - copied));
                memory.Write(_descriptors[d].Address, _frame.AsSpan(copied, part));
                copied += part;
                written += (uint)part;
            }
            queue.AddUsed(_heads[c], written);
        }
        used = true;
        statistics.CountRxFrame();
        _pending = 0;
        Release(chainsNeeded);
        return true;
    }

    private void Drop()
    {
        statistics.CountRxDropped();
        _pending = 0;
    }

    /// <summary>
    /// Pops one chain and holds its device-writable buffers. A chain that cannot take a frame (a device-readable
    /// buffer, §5.1.6.3.1, or less room than the header) goes back empty and counted. False: the ring is empty.
    /// </summary>
    private bool TryTakeChain(VirtQueue queue, ref bool used)
    {
        while (queue.TryPopAvailable(out var chain))
        {
            _pops++;
            int first = _descriptorCount;
            ulong capacity = 0;
            bool readable = false;
            while (chain.TryNext(out var descriptor))
            {
                if (!descriptor.IsWritable) { readable = true; break; }
                if (_descriptorCount == MaxDescriptors) break;
                _descriptors[_descriptorCount++] = descriptor;
                capacity += descriptor.Length;
            }
            if (readable || capacity < NetFrame.HeaderLength)
            {
                _descriptorCount = first;
                queue.AddUsed(chain.Head, 0);
                used = true;
                statistics.CountRxError();
                continue;
            }
            _heads[_chains] = chain.Head;
            _firstDescriptor[_chains] = first;
            _capacity[_chains] = (uint)Math.Min(capacity, uint.MaxValue);
            _popNumber[_chains] = _pops - 1;
            _chains++;
            return true;
        }
        return false;
    }

    /// <summary>Forgets the first <paramref name="count"/> held chains (just used), keeping the rest in order.</summary>
    private void Release(int count)
    {
        int firstKept = count < _chains ? _firstDescriptor[count] : _descriptorCount;
        Array.Copy(_descriptors, firstKept, _descriptors, 0, _descriptorCount - firstKept);
        _descriptorCount -= firstKept;
        for (int c = count; c < _chains; c++)
        {
            _heads[c - count] = _heads[c];
            _firstDescriptor[c - count] = _firstDescriptor[c] - firstKept;
            _capacity[c - count] = _capacity[c];
            _popNumber[c - count] = _popNumber[c];
        }
        _chains -= count;
    }
}
