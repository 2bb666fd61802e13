using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Devices.Virtio;

/// <summary>
/// The driver side of a split virtqueue (virtio 1.2 §2.7), written the way a guest driver would: it lays out
/// the descriptor table and both rings in guest RAM and publishes heads. Tests use it to build both honest and
/// hostile queue states; it checks nothing itself.
/// </summary>
internal sealed class MockVirtqDriver : IDisposable
{
    public const ulong DescAddress = 0x1_0000;
    public const ulong AvailAddress = 0x8_0000;
    public const ulong UsedAddress = 0x9_0000;
    public const ulong BufferBase = 0x10_0000;
    public const ulong IndirectBase = 0xF_0000;

    /// <summary>The guest RAM one driver lays its rings and buffers out in, from its base address.</summary>
    public const ulong LayoutSize = 4 << 20;

    private readonly ulong _base;
    private readonly ulong _layoutEnd;
    private readonly bool _ownsMemory;
    private ushort _nextFreeDescriptor;
    private ulong _nextBuffer;
    private ulong _nextIndirect;

    public MockVirtqDriver(ushort size, ulong ramSize = LayoutSize) : this(GuestMemory.Create(ramSize), size, 0, ramSize, ownsMemory: true) { }

    /// <summary>One of several queues in the same guest RAM: its rings and buffers lie in [baseAddress, baseAddress + <see cref="LayoutSize"/>).</summary>
    public MockVirtqDriver(GuestMemory memory, ushort size, ulong baseAddress) : this(memory, size, baseAddress, LayoutSize, ownsMemory: false) { }

    /// <summary>As above, with rings and buffers in [baseAddress, baseAddress + <paramref name="layoutSize"/>).</summary>
    public MockVirtqDriver(GuestMemory memory, ushort size, ulong baseAddress, ulong layoutSize) : this(memory, size, baseAddress, layoutSize, ownsMemory: false) { }

    private MockVirtqDriver(GuestMemory memory, ushort size, ulong baseAddress, ulong layoutSize, bool ownsMemory)
    {
        Size = size;
        Memory = memory;
        Queue = new VirtQueue(Memory);
        _base = baseAddress;
        _layoutEnd = baseAddress + layoutSize;
        _ownsMemory = ownsMemory;
        _nextBuffer = baseAddress + BufferBase;
        _nextIndirect = baseAddress + IndirectBase;
    }

    public ushort Size { get; }
    public GuestMemory Memory { get; }
    public VirtQueue Queue { get; }
    public ushort AvailIdx { get; private set; }

    /// <summary>Where this queue's descriptor table lies (<see cref="DescAddress"/> for a queue of its own).</summary>
    public ulong DescriptorTable => _base + DescAddress;

    public void Enable(bool eventIdx = false) =>
        Queue.Enable(Size, new GuestAddress(_base + DescAddress), new GuestAddress(_base + AvailAddress), new GuestAddress(_base + UsedAddress), eventIdx);

    /// <summary>Writes one 16-byte descriptor (§2.7.5) into a table.</summary>
    public void SetDescriptor(ulong table, int index, ulong address, uint length, ushort flags, ushort next)
    {
        var at = new GuestAddress(table + 16ul * (ulong)index);
        Memory.Write(at, address);
        Memory.Write(at + 8, length);
        Memory.Write(at + 12, flags);
        Memory.Write(at + 14, next);
    }

    public void SetDescriptor(int index, ulong address, uint length, ushort flags, ushort next = 0) =>
        SetDescriptor(_base + DescAddress, index, address, length, flags, next);

    /// <summary>Allocates buffers and a chain of direct descriptors for them; returns the head.</summary>
    public ushort AddChain(params (uint Length, bool Writable)[] buffers) => AddChain(out _, buffers);

    /// <summary>As <see cref="AddChain(ValueTuple{uint, bool}[])"/>, also giving each buffer's guest address so a test can fill or read it.</summary>
    public ushort AddChain(out ulong[] addresses, params (uint Length, bool Writable)[] buffers)
    {
        ushort head = _nextFreeDescriptor;
        addresses = new ulong[buffers.Length];
        for (int i = 0; i < buffers.Length; i++)
        {
            ushort index = (ushort)((head + i) % Size);
            bool last = i == buffers.Length - 1;
            ushort flags = (ushort)((buffers[i].Writable ? Flags.Write : 0) | (last ? 0 : Flags.Next));
            addresses[i] = AllocateBuffer(buffers[i].Length);
            SetDescriptor(index, addresses[i], buffers[i].Length, flags, (ushort)((index + 1) % Size));
        }
        _nextFreeDescriptor = (ushort)((head + buffers.Length) % Size);
        return head;
    }

    /// <summary>Allocates an indirect table holding the buffers and one descriptor pointing to it; returns the head.</summary>
    public ushort AddIndirectChain(params (uint Length, bool Writable)[] buffers)
    {
        ulong table = _nextIndirect;
        _nextIndirect += 16ul * (ulong)buffers.Length;
        for (int i = 0; i < buffers.Length; i++)
        {
            bool last = i == buffers.Length - 1;
            ushort flags = (ushort)((buffers[i].Writable ? Flags.Write : 0) | (last ? 0 : Flags.Next));
            SetDescriptor(table, i, AllocateBuffer(buffers[i].Length), buffers[i].Length, flags, (ushort)(i + 1));
        }
        ushort head = _nextFreeDescriptor;
        SetDescriptor(head, table, (uint)(16 * buffers.Length), Flags.Indirect);
        _nextFreeDescriptor = (ushort)((head + 1) % Size);
        return head;
    }

    /// <summary>Puts a head in the driver ring and publishes it by bumping idx (§2.7.13).</summary>
    public void Publish(ushort head)
    {
        Memory.Write(new GuestAddress(_base + AvailAddress + 4 + 2ul * (ulong)(AvailIdx % Size)), head);
        SetAvailIdx((ushort)(AvailIdx + 1));
    }

    public void SetAvailIdx(ushort idx)
    {
        AvailIdx = idx;
        Memory.Write(new GuestAddress(_base + AvailAddress + 2), idx);
    }

    public void SetAvailFlags(ushort flags) => Memory.Write(new GuestAddress(_base + AvailAddress), flags);
    public void SetUsedEvent(ushort value) => Memory.Write(new GuestAddress(_base + AvailAddress + 4 + 2ul * Size), value);

    public ushort UsedIdx => Memory.Read<ushort>(new GuestAddress(_base + UsedAddress + 2));
    public ushort AvailEvent => Memory.Read<ushort>(new GuestAddress(_base + UsedAddress + 4 + 8ul * Size));

    public (uint Id, uint Length) UsedElement(ushort position)
    {
        var at = new GuestAddress(_base + UsedAddress + 4 + 8ul * (ulong)(position % Size));
        return (Memory.Read<uint>(at), Memory.Read<uint>(at + 4));
    }

    private ulong AllocateBuffer(uint length)
    {
        ulong address = _nextBuffer;
        _nextBuffer += (length + 15ul) & ~15ul;
        if (_nextBuffer > _layoutEnd) _nextBuffer = _base + BufferBase;   // buffers are reused: a test reads one only before it wraps around
        return address;
    }

    /// <summary>The buffer address in descriptor <paramref name="index"/> of the queue's table (where a test reads or fills it).</summary>
    public GuestAddress BufferAddress(ushort index) => new(Memory.Read<ulong>(new GuestAddress(_base + DescAddress + 16ul * index)));

    public void Dispose()
    {
        if (_ownsMemory) Memory.Dispose();
    }

    /// <summary>Descriptor flag bits (virtio 1.2 §2.7.5), spelled out again here so the tests do not trust the code under test.</summary>
    public static class Flags
    {
        public const ushort Next = 1;
        public const ushort Write = 2;
        public const ushort Indirect = 4;
    }
}
