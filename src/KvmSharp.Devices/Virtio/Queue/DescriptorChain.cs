using System.Buffers.Binary;
using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Queue;

/// <summary>
/// A walk over one descriptor chain (virtio 1.2 §2.7.5), lazily with <see cref="TryNext"/> or into a
/// caller's buffer with <see cref="CopyTo"/>; neither allocates. The guest is hostile, so every step is
/// checked and any violation throws <see cref="VirtQueueException"/>:
/// <list type="bullet">
/// <item>at most queue-size descriptors in the chain, and at most table-length/16 inside an indirect
/// table, so a loop in the <c>next</c> links ends the walk instead of hanging it;</item>
/// <item><c>next</c> inside the current table (queue size, or the indirect table's entry count);</item>
/// <item>every buffer inside guest RAM (GuestMemory checks the 64-bit sum for overflow);</item>
/// <item>readable buffers before writable ones (driver requirement of §2.7.4.2);</item>
/// <item>indirect tables (§2.7.5.3.1): length a non-zero multiple of 16, not combined with NEXT, and no
/// indirect descriptor inside an indirect table;</item>
/// <item>the chain's total length at most <see cref="MaxTotalLength"/>.</item>
/// </list>
/// Each descriptor is read from guest memory once; the walker keeps what it needs in its own fields.
/// A mutable struct: pass it by ref, do not copy it mid-walk.
/// </summary>
public struct DescriptorChain
{
    /// <summary>
    /// Total bytes a chain may describe. §2.7.5.2 forbids drivers chains over 2^32 bytes; we stop one byte
    /// short because the used element's <c>len</c> is 32 bits (§2.7.8), so 2^32 - 1 is the most a device can
    /// report written, and a device's byte counts then stay in plain 32-bit arithmetic. Linux never builds
    /// chains anywhere near it.
    /// </summary>
    public const uint MaxTotalLength = uint.MaxValue;

    private readonly GuestMemory _memory;
    private GuestAddress _table;
    private uint _tableEntries;
    private uint _index;
    private uint _budget;
    private ulong _totalLength;
    private bool _inIndirect;
    private bool _sawWritable;
    private bool _hasNext;

    internal DescriptorChain(GuestMemory memory, GuestAddress table, ushort queueSize, ushort head)
    {
        if (head >= queueSize)
            throw new VirtQueueException($"descriptor chain head {head} is not below the queue size {queueSize}");
        _memory = memory;
        _table = table;
        _tableEntries = queueSize;
        _index = head;
        _budget = queueSize;
        Head = head;
        _hasNext = true;
    }

    /// <summary>The head index: what the device hands back in <see cref="VirtQueue.AddUsed"/>.</summary>
    public ushort Head { get; }

    /// <summary>Bytes described so far by the descriptors walked.</summary>
    public readonly ulong TotalLength => _totalLength;

    /// <summary>The next buffer, or false at the end of the chain. Throws <see cref="VirtQueueException"/> on a malformed chain.</summary>
    public bool TryNext(out Descriptor descriptor)
    {
        while (_hasNext)
        {
            if (_budget == 0)
                throw new VirtQueueException(_inIndirect
                    ? "indirect descriptor table has a loop (more descriptors than entries)"
                    : "descriptor chain is longer than the queue size (a loop)");
            _budget--;

            // Read each field once: the guest may rewrite the table while we look at it.
            var entry = _table.CheckedAdd((ulong)_index * DescriptorFlags.Size);
            if (entry is null || !_memory.TryGetSpan(entry.Value, DescriptorFlags.Size, out var raw))
                throw new VirtQueueException($"descriptor {_index} at {_table} is outside guest RAM");
            var address = new GuestAddress(BinaryPrimitives.ReadUInt64LittleEndian(raw));
            uint length = BinaryPrimitives.ReadUInt32LittleEndian(raw[8..]);
            ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(raw[12..]);
            ushort next = BinaryPrimitives.ReadUInt16LittleEndian(raw[14..]);

            if ((flags & DescriptorFlags.Indirect) != 0)
            {
                EnterIndirectTable(address, length, flags);
                continue;
            }

            bool writable = (flags & DescriptorFlags.Write) != 0;
            if (!writable && _sawWritable)
                throw new VirtQueueException("device-readable descriptor after a device-writable one");
            _sawWritable |= writable;

            if (!_memory.IsValidRange(address, length))
                throw new VirtQueueException($"descriptor buffer {address}+{length:x} is outside guest RAM");
            _totalLength += length;
            if (_totalLength > MaxTotalLength)
                throw new VirtQueueException("descriptor chain describes more than 4 GiB - 1 bytes");

            if ((flags & DescriptorFlags.Next) != 0)
            {
                if (next >= _tableEntries)
                    throw new VirtQueueException($"descriptor next {next} is not below the table's {_tableEntries} entries");
                _index = next;
            }
            else
            {
                _hasNext = false;
            }
            descriptor = new Descriptor(address, length, writable);
            return true;
        }
        descriptor = default;
        return false;
    }

    /// <summary>
    /// Walks the rest of the chain into <paramref name="buffer"/> and returns how many descriptors it wrote.
    /// A chain longer than the buffer throws <see cref="VirtQueueException"/>: the buffer is the device's own
    /// limit on descriptors per request.
    /// </summary>
    public int CopyTo(Span<Descriptor> buffer)
    {
        int count = 0;
        while (TryNext(out var descriptor))
        {
            if (count == buffer.Length)
                throw new VirtQueueException($"descriptor chain has more than {buffer.Length} buffers");
            buffer[count++] = descriptor;
        }
        return count;
    }

    /// <summary>Switches the walk to an indirect table (virtio 1.2 §2.7.5.3).</summary>
    private void EnterIndirectTable(GuestAddress address, uint length, ushort flags)
    {
        if (_inIndirect)
            throw new VirtQueueException("indirect descriptor inside an indirect table");
        if ((flags & DescriptorFlags.Next) != 0)
            throw new VirtQueueException("descriptor has both INDIRECT and NEXT");
        if (length == 0 || length % DescriptorFlags.Size != 0)
            throw new VirtQueueException($"indirect table length {length} is not a non-zero multiple of 16");
        // next is 16 bits, so a table can have at most 65536 reachable entries; more is a malformed table.
        uint entries = length / DescriptorFlags.Size;
        if (entries > ushort.MaxValue + 1u)
            throw new VirtQueueException($"indirect table has {entries} entries, more than 65536");
        if (!_memory.IsValidRange(address, length))
            throw new VirtQueueException($"indirect table {address}+{length:x} is outside guest RAM");
        _inIndirect = true;
        _table = address;
        _tableEntries = entries;
        _index = 0;
        _budget = entries;
    }
}
