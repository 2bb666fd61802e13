using System.Buffers.Binary;

namespace KvmSharp.Devices.Virtio.Balloon;

/// <summary>The memory statistics tags of virtio 1.2 §5.5.6.3.</summary>
public enum BalloonStatTag : ushort
{
    SwapIn = 0,
    SwapOut = 1,
    MajorFaults = 2,
    MinorFaults = 3,
    FreeMemory = 4,
    TotalMemory = 5,
    AvailableMemory = 6,
    DiskCaches = 7,
    HugePageAllocations = 8,
    HugePageFailures = 9,
}

/// <summary>
/// One stats buffer from the driver (virtio 1.2 §5.5.6.3): packed entries of le16 tag + le64 value. Immutable,
/// so the host can read it from any thread. Unknown tags are kept (a newer driver may send more).
/// </summary>
public sealed class BalloonStatistics
{
    /// <summary>Bytes per entry: the driver's struct is packed (le16 tag, le64 val).</summary>
    public const int EntrySize = 10;

    /// <summary>Most entries kept from one buffer; the spec defines ten tags, so more is a confused driver.</summary>
    public const int MaxEntries = 64;

    private readonly (ushort Tag, ulong Value)[] _entries;

    private BalloonStatistics((ushort, ulong)[] entries, long sequence)
    {
        _entries = entries;
        Sequence = sequence;
    }

    public static BalloonStatistics None { get; } = new([], 0);

    /// <summary>How many buffers the device has taken since it was created (0: none yet).</summary>
    public long Sequence { get; }

    public IReadOnlyList<(ushort Tag, ulong Value)> Entries => _entries;

    /// <summary>The last value the driver gave for <paramref name="tag"/>, if it gave one.</summary>
    public ulong? Get(BalloonStatTag tag)
    {
        ulong? found = null;
        foreach (var (t, v) in _entries)
            if (t == (ushort)tag) found = v;
        return found;
    }

    /// <summary>Statistics as saved (<see cref="VirtioBalloonState"/>); the caller checked the count.</summary>
    internal static BalloonStatistics FromEntries(IEnumerable<(ushort Tag, ulong Value)> entries, long sequence) => new([.. entries], sequence);

    /// <summary>Parses whole entries of <paramref name="buffer"/>, at most <see cref="MaxEntries"/>; a trailing partial entry is ignored.</summary>
    internal static BalloonStatistics Parse(ReadOnlySpan<byte> buffer, long sequence)
    {
        int count = Math.Min(buffer.Length / EntrySize, MaxEntries);
        var entries = new (ushort, ulong)[count];
        for (int i = 0; i < count; i++)
        {
            var entry = buffer.Slice(i * EntrySize, EntrySize);
            entries[i] = (BinaryPrimitives.ReadUInt16LittleEndian(entry), BinaryPrimitives.ReadUInt64LittleEndian(entry[2..]));
        }
        return new BalloonStatistics(entries, sequence);
    }
}
