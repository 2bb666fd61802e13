namespace KvmSharp.Devices.Bus;

/// <summary>
/// Maps address ranges to devices: one instance for port I/O, one for MMIO (the same registration API
/// for both). Lookup is a binary search over an immutable sorted array, so the vCPU exit path takes no
/// lock and allocates nothing; registration swaps in a new array.
/// </summary>
public sealed class IoBus(string name)
{
    private readonly record struct Entry(ulong Start, ulong Length, IBusDevice Device);

    private readonly object _registrationLock = new();
    private Entry[] _entries = [];

    public string Name { get; } = name;

    /// <summary>Reads and writes that hit no device; a guest probing for hardware causes them, so they are counted, not logged.</summary>
    public long UnhandledAccesses => Interlocked.Read(ref _unhandled);
    private long _unhandled;

    /// <summary>Registers <paramref name="device"/> at [start, start+length). Overlapping an existing range is a VMM bug.</summary>
    public void Register(ulong start, ulong length, IBusDevice device)
    {
        if (length == 0 || start > ulong.MaxValue - length + 1)
            throw new ArgumentOutOfRangeException(nameof(length), $"{Name}: bad range 0x{start:x}+0x{length:x}");
        lock (_registrationLock)
        {
            foreach (var e in _entries)
                if (start < e.Start + e.Length && e.Start < start + length)
                    throw new InvalidOperationException(
                        $"{Name}: range 0x{start:x}+0x{length:x} overlaps 0x{e.Start:x}+0x{e.Length:x} ({e.Device.GetType().Name})");
            var next = new Entry[_entries.Length + 1];
            _entries.CopyTo(next, 0);
            next[^1] = new Entry(start, length, device);
            Array.Sort(next, (a, b) => a.Start.CompareTo(b.Start));
            Volatile.Write(ref _entries, next);
        }
    }

    /// <summary>Removes the range that starts at <paramref name="start"/>; false if none does.</summary>
    public bool Unregister(ulong start)
    {
        lock (_registrationLock)
        {
            int i = Array.FindIndex(_entries, e => e.Start == start);
            if (i < 0) return false;
            var next = new Entry[_entries.Length - 1];
            Array.Copy(_entries, 0, next, 0, i);
            Array.Copy(_entries, i + 1, next, i, next.Length - i);
            Volatile.Write(ref _entries, next);
            return true;
        }
    }

    /// <summary>
    /// Dispatches a guest read. An access that hits no device reads as all ones, as an
    /// unclaimed ISA/PCI bus does; returns false then.
    /// </summary>
    public bool Read(ulong address, Span<byte> data)
    {
        if (Find(address, (ulong)data.Length, out var entry))
        {
            entry.Device.Read(address - entry.Start, data);
            return true;
        }
        data.Fill(0xFF);
        Interlocked.Increment(ref _unhandled);
        return false;
    }

    /// <summary>Dispatches a guest write; a write that hits no device is dropped and returns false.</summary>
    public bool Write(ulong address, ReadOnlySpan<byte> data)
    {
        if (Find(address, (ulong)data.Length, out var entry))
        {
            entry.Device.Write(address - entry.Start, data);
            return true;
        }
        Interlocked.Increment(ref _unhandled);
        return false;
    }

    /// <summary>Finds the device whose range holds the whole access [address, address+length).</summary>
    private bool Find(ulong address, ulong length, out Entry found)
    {
        var entries = Volatile.Read(ref _entries);
        int lo = 0, hi = entries.Length - 1;
        while (lo <= hi)
        {
            int mid = (lo + hi) >>> 1;
            ref readonly var e = ref entries[mid];
            if (address < e.Start) hi = mid - 1;
            else if (address - e.Start >= e.Length) lo = mid + 1;
            else
            {
                found = e;
                return length <= e.Length - (address - e.Start);
            }
        }
        found = default;
        return false;
    }
}
