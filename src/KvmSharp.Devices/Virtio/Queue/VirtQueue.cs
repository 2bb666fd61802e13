using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using KvmSharp.Memory;

namespace KvmSharp.Devices.Virtio.Queue;

/// <summary>
/// The device side of a split virtqueue (virtio 1.2 §2.7): a descriptor table, a driver ("available") ring the
/// driver fills with chain heads, and a device ("used") ring the device fills with finished chains.
/// <para>
/// The guest is hostile (DESIGN.md): ring ranges and alignment are checked once in <see cref="Enable"/> and
/// every access still goes through GuestMemory's checked methods; each guest value is read once; an avail
/// index more than the queue size ahead of ours is rejected. Every violation throws
/// <see cref="VirtQueueException"/>, which the device turns into DEVICE_NEEDS_RESET.
/// </para>
/// Not thread-safe: one device thread owns a queue.
/// </summary>
public sealed partial class VirtQueue(GuestMemory memory, ushort maxSize = VirtQueue.MaxSize)
{
    /// <summary>Largest split queue (virtio 1.2 §2.7: "Queue Size ... maximum 32768").</summary>
    public const ushort MaxSize = 32768;

    /// <summary>VRING_AVAIL_F_NO_INTERRUPT (§2.7.7): the driver asks for no used-buffer notifications.</summary>
    private const ushort AvailNoInterrupt = 1;

    // Ring layout (§2.7.6, §2.7.8): le16 flags, le16 idx, then the ring, then the event field.
    private const ulong RingHeader = 4;
    private const ulong UsedElementSize = 8;

    private readonly GuestMemory _memory = memory;
    private ushort _nextAvail;
    private ushort _nextUsed;
    private ushort _signalledUsed;
    private bool _signalledUsedValid;

    /// <summary>The most entries the device offers (queue_size's reset value in the PCI common config).</summary>
    public ushort MaxQueueSize { get; } = maxSize is > 0 and <= MaxSize && (maxSize & (maxSize - 1)) == 0
        ? maxSize
        : throw new ArgumentOutOfRangeException(nameof(maxSize), "queue size must be a power of two up to 32768");

    public ushort Size { get; private set; }
    public GuestAddress DescriptorTable { get; private set; }
    public GuestAddress DriverRing { get; private set; }
    public GuestAddress DeviceRing { get; private set; }

    /// <summary>VIRTIO_F_EVENT_IDX was negotiated: used_event/avail_event replace the ring flags (§2.7.7, §2.7.10).</summary>
    public bool EventIdx { get; private set; }

    public bool IsReady { get; private set; }

    /// <summary>The next avail-ring position the device will read (its last_avail_idx).</summary>
    public ushort NextAvailable => _nextAvail;

    /// <summary>The used idx the device has published.</summary>
    public ushort NextUsed => _nextUsed;

    /// <summary>
    /// Takes the driver's queue configuration (queue_enable = 1, virtio 1.2 §4.1.4.3) after checking it: size a
    /// power of two no larger than <see cref="MaxQueueSize"/>, rings aligned (§2.7: descriptor table 16,
    /// driver ring 2, device ring 4) and each wholly inside one region of guest RAM.
    /// </summary>
    public void Enable(ushort size, GuestAddress descriptorTable, GuestAddress driverRing, GuestAddress deviceRing, bool eventIdx)
    {
        CheckConfiguration(size, descriptorTable, driverRing, deviceRing);
        Size = size;
        DescriptorTable = descriptorTable;
        DriverRing = driverRing;
        DeviceRing = deviceRing;
        EventIdx = eventIdx;
        IsReady = true;
    }

    /// <summary>The checks of <see cref="Enable"/>, changing nothing; a <see cref="VirtQueueException"/> says what is wrong.</summary>
    private void CheckConfiguration(ushort size, GuestAddress descriptorTable, GuestAddress driverRing, GuestAddress deviceRing)
    {
        if (SizeProblem(size) is { } problem) throw new VirtQueueException(problem);
        CheckRing("descriptor table", descriptorTable, 16, DescriptorTableLength(size));
        CheckRing("driver ring", driverRing, 2, DriverRingLength(size));
        CheckRing("device ring", deviceRing, 4, DeviceRingLength(size));
    }

    private string? SizeProblem(ushort size) =>
        size == 0 || (size & (size - 1)) != 0 || size > MaxQueueSize ? $"queue size {size} is not a power of two up to {MaxQueueSize}" : null;

    private static ulong DescriptorTableLength(ushort size) => (ulong)size * DescriptorFlags.Size;
    private static ulong DriverRingLength(ushort size) => RingHeader + 2ul * size + 2;
    private static ulong DeviceRingLength(ushort size) => RingHeader + UsedElementSize * size + 2;

    /// <summary>Back to the reset state (device reset, or queue_reset §2.6.1): not ready, indexes zero.</summary>
    public void Reset()
    {
        IsReady = false;
        Size = 0;
        DescriptorTable = DriverRing = DeviceRing = default;
        EventIdx = false;
        _nextAvail = _nextUsed = _signalledUsed = 0;
        _signalledUsedValid = false;
    }

    /// <summary>
    /// The next chain the driver made available, or false when there is none (or the queue is not ready).
    /// With EVENT_IDX, an empty ring also sets avail_event so the driver notifies us at the next buffer.
    /// </summary>
    public bool TryPopAvailable(out DescriptorChain chain)
    {
        chain = default;
        if (!IsReady) return false;

        ushort availIdx = ReadAvailIndex();
        if (availIdx == _nextAvail && EventIdx)
        {
            // Ask for a notification at the next buffer, then look again: the driver may have added one and
            // read the old avail_event between our first read and our write (§2.7.10). The full fence orders
            // our avail_event store before the second idx load (a store→load order x86 does not give for free).
            WriteU16(AvailEventAddress, _nextAvail);
            Interlocked.MemoryBarrier();
            availIdx = ReadAvailIndex();
        }
        if (availIdx == _nextAvail) return false;

        // Read the ring slot once, after idx (the volatile idx read keeps this load from moving above it).
        ulong slot = RingHeader + 2ul * (ushort)(_nextAvail & (Size - 1));
        ushort head = ReadU16(DriverRing + slot);
        chain = new DescriptorChain(_memory, DescriptorTable, Size, head);
        _nextAvail++;
        if (EventIdx)
            WriteU16(AvailEventAddress, _nextAvail);
        return true;
    }

    /// <summary>
    /// Gives the last <paramref name="count"/> popped chains back to the driver ring unused, so they are popped again
    /// later (rust-vmm's go_to_previous_position): for a device that took buffers it has not filled and must let go
    /// of them (a pause before a snapshot). The caller guarantees they were the most recent pops and none was used.
    /// </summary>
    public void UndoPop(int count)
    {
        if (count < 0 || count > Size) throw new ArgumentOutOfRangeException(nameof(count));
        _nextAvail -= (ushort)count;
    }

    /// <summary>
    /// Hands a chain back to the driver with the bytes the device wrote into its writable buffers (§2.7.8).
    /// The element is written before idx is published, so the driver never sees an idx covering a stale element.
    /// </summary>
    public void AddUsed(ushort head, uint writtenLength)
    {
        if (!IsReady)
            throw new InvalidOperationException("AddUsed on a queue that is not enabled");
        if (head >= Size)
            throw new ArgumentOutOfRangeException(nameof(head), "a used head must come from a popped chain");
        var element = DeviceRing + RingHeader + UsedElementSize * (ushort)(_nextUsed & (Size - 1));
        Span<byte> bytes = stackalloc byte[8];
        MemoryMarshal.Write(bytes, (uint)head);
        MemoryMarshal.Write(bytes[4..], writtenLength);
        if (!_memory.TryWrite(element, bytes))
            throw new VirtQueueException($"device ring element at {element} is outside guest RAM");
        _nextUsed++;
        // Release store: the element above becomes visible no later than the new idx, because the driver
        // reads the elements that idx covers as soon as it sees idx (§2.7.8).
        WriteU16(DeviceRing + 2, _nextUsed, volatileStore: true);
    }

    /// <summary>
    /// Whether the driver wants a used-buffer notification now (§2.7.7). Call after a batch of
    /// <see cref="AddUsed"/>. With EVENT_IDX: notify when used idx has passed used_event since the last call
    /// that said yes or no; otherwise: unless the driver set VRING_AVAIL_F_NO_INTERRUPT.
    /// </summary>
    public bool NeedsInterrupt()
    {
        if (!IsReady) return false;
        // Our used idx store must be visible before we read the driver's suppression fields, or the driver
        // could miss both our update and our interrupt (store→load ordering needs a full fence).
        Interlocked.MemoryBarrier();
        if (!EventIdx)
            return (ReadU16(DriverRing) & AvailNoInterrupt) == 0;

        ushort usedEvent = ReadU16(UsedEventAddress);
        ushort old = _signalledUsed;
        bool valid = _signalledUsedValid;
        _signalledUsed = _nextUsed;
        _signalledUsedValid = true;
        if (!valid) return true; // nothing signalled yet since enable: notify once to be safe
        // §2.7.7: notify if used_event lies in [old, new): (new - event - 1) < (new - old), all mod 2^16.
        return (ushort)(_nextUsed - usedEvent - 1) < (ushort)(_nextUsed - old);
    }

    /// <summary>used_event: the le16 after the driver ring's entries.</summary>
    private GuestAddress UsedEventAddress => DriverRing + RingHeader + 2ul * Size;

    /// <summary>avail_event: the le16 after the device ring's entries.</summary>
    private GuestAddress AvailEventAddress => DeviceRing + RingHeader + UsedElementSize * Size;

    /// <summary>
    /// The driver's avail idx, checked: the driver may be at most a queue's worth ahead of us. It never
    /// decrements idx (§2.7.6) and the ring holds only size heads, so more means a corrupt ring.
    /// </summary>
    private ushort ReadAvailIndex()
    {
        ushort idx = ReadU16(DriverRing + 2, volatileLoad: true);
        if ((ushort)(idx - _nextAvail) > Size)
            throw new VirtQueueException($"driver ring idx {idx} is more than {Size} ahead of {_nextAvail}");
        return idx;
    }

    private void CheckRing(string name, GuestAddress address, ulong alignment, ulong length)
    {
        if (RingProblem(name, address, alignment, length) is { } problem) throw new VirtQueueException(problem);
    }

    private string? RingProblem(string name, GuestAddress address, ulong alignment, ulong length) =>
        address.Value % alignment != 0 ? $"{name} at {address} is not {alignment}-byte aligned"
        : !_memory.IsValidRange(address, length) ? $"{name} {address}+{length:x} is outside guest RAM"
        : null;

    private ushort ReadU16(GuestAddress address, bool volatileLoad = false)
    {
        if (!_memory.TryGetSpan(address, 2, out var span))
            throw new VirtQueueException($"ring field at {address} is outside guest RAM");
        ref ushort field = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(span));
        // Acquire load of an index: later reads of ring entries cannot move above it.
        return volatileLoad ? Volatile.Read(ref field) : field;
    }

    private void WriteU16(GuestAddress address, ushort value, bool volatileStore = false)
    {
        if (!_memory.TryGetSpan(address, 2, out var span))
            throw new VirtQueueException($"ring field at {address} is outside guest RAM");
        ref ushort field = ref Unsafe.As<byte, ushort>(ref MemoryMarshal.GetReference(span));
        if (volatileStore) Volatile.Write(ref field, value);
        else field = value;
    }
}
