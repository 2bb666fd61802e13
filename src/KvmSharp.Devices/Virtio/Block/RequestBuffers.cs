using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Block;

/// <summary>
/// The buffers of one request chain seen as two byte streams, the device-readable one and the
/// device-writable one (the chain walker guarantees readable buffers come first). virtio 1.2 §2.6.4
/// forbids devices to assume any framing, so the header, data and status byte are located by offset in
/// these streams, not by descriptor. Holds at most <see cref="BlockLimits.MaxDescriptors"/> descriptors
/// (reused, nothing allocated per request); a longer chain is walked to its end and only its last
/// descriptor kept, so the request can still be answered with an error.
/// </summary>
/// <param name="capacity">Descriptors kept per chain (virtio-fs keeps more: a 1 MiB read is 256 pages).</param>
internal sealed class RequestBuffers(GuestMemory memory, int capacity = BlockLimits.MaxDescriptors)
{
    /// <summary>Largest piece handed to the backend at once: keeps every span length an int.</summary>
    public const int MaxPiece = 1 << 20;

    private readonly Descriptor[] _descriptors = new Descriptor[capacity];
    private int _count;
    private int _firstWritable;
    private Descriptor _last;

    public GuestMemory Memory { get; } = memory;
    public ulong ReadableLength { get; private set; }
    public ulong WritableLength { get; private set; }

    /// <summary>The chain had more descriptors than we keep; only the status byte is reachable.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>Walks the whole chain. Throws <see cref="VirtQueueException"/> for a malformed chain.</summary>
    public void Load(ref DescriptorChain chain)
    {
        _count = 0;
        _firstWritable = -1;
        _last = default;
        ReadableLength = WritableLength = 0;
        Overflowed = false;
        while (chain.TryNext(out var descriptor))
        {
            if (_count < _descriptors.Length)
            {
                if (descriptor.IsWritable && _firstWritable < 0) _firstWritable = _count;
                _descriptors[_count++] = descriptor;
            }
            else
            {
                Overflowed = true;
            }
            _last = descriptor;
            if (descriptor.IsWritable) WritableLength += descriptor.Length;
            else ReadableLength += descriptor.Length;
        }
    }

    /// <summary>Writes the status byte: the last byte of the last writable buffer. False when there is none.</summary>
    public bool TryWriteStatus(byte status)
    {
        if (!_last.IsWritable || _last.Length == 0) return false;
        return Memory.TryWrite(_last.Address + (_last.Length - 1ul), [status]);
    }

    /// <summary>Copies <paramref name="destination"/>.Length bytes of the readable stream from <paramref name="offset"/>.</summary>
    public bool TryRead(ulong offset, Span<byte> destination)
    {
        var pieces = Pieces(writable: false, offset, (ulong)destination.Length);
        while (pieces.Next(out var address, out int length))
        {
            if (!Memory.TryRead(address, destination[..length])) return false;
            destination = destination[length..];
        }
        return destination.IsEmpty;
    }

    /// <summary>Copies <paramref name="source"/> into the writable stream at <paramref name="offset"/>.</summary>
    public bool TryWrite(ulong offset, ReadOnlySpan<byte> source)
    {
        var pieces = Pieces(writable: true, offset, (ulong)source.Length);
        while (pieces.Next(out var address, out int length))
        {
            if (!Memory.TryWrite(address, source[..length])) return false;
            source = source[length..];
        }
        return source.IsEmpty;
    }

    /// <summary>
    /// The guest buffers covering [offset, offset+length) of one stream, at most <see cref="MaxPiece"/> bytes
    /// each. Ends early when the stream is shorter (callers check lengths first).
    /// </summary>
    public PieceWalker Pieces(bool writable, ulong offset, ulong length)
    {
        int start = writable ? (_firstWritable < 0 ? _count : _firstWritable) : 0;
        int end = writable ? _count : (_firstWritable < 0 ? _count : _firstWritable);
        return new PieceWalker(_descriptors.AsSpan(start, end - start), offset, length);
    }

    /// <summary>Steps through a stream's buffers; a ref struct so walking allocates nothing.</summary>
    public ref struct PieceWalker(ReadOnlySpan<Descriptor> descriptors, ulong skip, ulong remaining)
    {
        private readonly ReadOnlySpan<Descriptor> _descriptors = descriptors;
        private int _index;
        private ulong _skip = skip;      // bytes of the stream still to pass over before the range
        private ulong _within;           // bytes of the current descriptor already handed out
        private ulong _remaining = remaining;

        public bool Next(out GuestAddress address, out int length)
        {
            while (_remaining > 0 && _index < _descriptors.Length)
            {
                var d = _descriptors[_index];
                if (_skip >= d.Length) { _skip -= d.Length; _index++; continue; }
                ulong start = _skip + _within;
                ulong available = d.Length - start;
                if (available == 0) { _index++; _skip = 0; _within = 0; continue; }
                ulong take = Math.Min(Math.Min(available, _remaining), MaxPiece);
                address = d.Address + start;
                length = (int)take;
                _within += take;
                _remaining -= take;
                return true;
            }
            address = default;
            length = 0;
            return false;
        }
    }
}
