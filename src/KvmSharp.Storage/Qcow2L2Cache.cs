using System.Buffers.Binary;

namespace KvmSharp.Storage;

/// <summary>
/// A bounded cache of decoded L2 tables (least recently used goes first), so a read costs one pread of data and
/// no pread of metadata. Changed tables stay in the cache, dirty, until <see cref="Qcow2Image"/> writes them back in
/// its ordered metadata flush; only clean tables are evicted, so the cache may exceed its capacity while many are
/// dirty (the image flushes when <see cref="DirtyCount"/> passes <see cref="Capacity"/>). Thread-safe: lookups run
/// under the image's shared lock from many threads; changes happen under its exclusive lock.
/// </summary>
internal sealed class Qcow2L2Cache(int capacity, int entriesPerTable, Action<long, Span<byte>> load)
{
    private sealed class Table(ulong[] entries)
    {
        public readonly ulong[] Entries = entries;
        public bool Dirty;
        public long LastUse;
    }

    private readonly Dictionary<long, Table> _tables = [];
    private readonly object _gate = new();
    private long _clock;
    private int _dirty;

    public int Capacity => capacity;
    public int DirtyCount { get { lock (_gate) return _dirty; } }

    /// <summary>Entry <paramref name="index"/> of the L2 table at host offset <paramref name="table"/>.</summary>
    public ulong Get(long table, long index)
    {
        lock (_gate) return Find(table).Entries[index];
    }

    /// <summary>Changes an entry; the table is written back at the next metadata flush.</summary>
    public void Set(long table, long index, ulong value)
    {
        lock (_gate)
        {
            var t = Find(table);
            t.Entries[index] = value;
            MarkDirty(t);
        }
    }

    /// <summary>A copy of a table's entries.</summary>
    public ulong[] Snapshot(long table)
    {
        lock (_gate) return (ulong[])Find(table).Entries.Clone();
    }

    /// <summary>A table that exists only in memory yet (newly allocated or copied): dirty from the start.</summary>
    public void Install(long table, ulong[] entries)
    {
        lock (_gate)
        {
            if (_tables.Remove(table, out var old) && old.Dirty) _dirty--;
            var t = new Table(entries) { LastUse = ++_clock };
            EvictIfFull();
            _tables[table] = t;
            MarkDirty(t);
        }
    }

    /// <summary>The dirty tables, encoded big-endian, for the metadata flush.</summary>
    public List<(long Offset, byte[] Bytes)> DirtyTables()
    {
        lock (_gate)
        {
            var list = new List<(long, byte[])>();
            foreach (var (offset, t) in _tables)
                if (t.Dirty) list.Add((offset, Encode(t.Entries)));
            list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
            return list;
        }
    }

    /// <summary>After a flush wrote <paramref name="written"/> durably: those tables are clean (unless changed since, which the exclusive lock rules out).</summary>
    public void MarkClean(IEnumerable<long> written)
    {
        lock (_gate)
            foreach (long offset in written)
                if (_tables.TryGetValue(offset, out var t) && t.Dirty) { t.Dirty = false; _dirty--; }
    }

    /// <summary>Forgets every table (after code that changed tables on disk directly). Only with nothing dirty.</summary>
    public void Clear()
    {
        lock (_gate)
        {
            if (_dirty != 0) throw new InvalidOperationException("L2 cache cleared with dirty tables");
            _tables.Clear();
        }
    }

    private void MarkDirty(Table t)
    {
        if (t.Dirty) return;
        t.Dirty = true;
        _dirty++;
    }

    private Table Find(long table)
    {
        if (_tables.TryGetValue(table, out var t))
        {
            t.LastUse = ++_clock;
            return t;
        }
        var raw = new byte[entriesPerTable * 8];
        load(table, raw);
        var entries = new ulong[entriesPerTable];
        for (int i = 0; i < entries.Length; i++) entries[i] = BinaryPrimitives.ReadUInt64BigEndian(raw.AsSpan(i * 8));
        t = new Table(entries) { LastUse = ++_clock };
        EvictIfFull();
        _tables[table] = t;
        return t;
    }

    private void EvictIfFull()
    {
        if (_tables.Count < capacity) return;
        long victim = -1, oldest = long.MaxValue;
        foreach (var (offset, t) in _tables)
            if (!t.Dirty && t.LastUse < oldest) { oldest = t.LastUse; victim = offset; }
        if (victim >= 0) _tables.Remove(victim);
    }

    private static byte[] Encode(ulong[] entries)
    {
        var raw = new byte[entries.Length * 8];
        for (int i = 0; i < entries.Length; i++) BinaryPrimitives.WriteUInt64BigEndian(raw.AsSpan(i * 8), entries[i]);
        return raw;
    }
}
