namespace KvmSharp.Devices.Legacy;

/// <summary>
/// A fixed-capacity first-in first-out byte queue: the storage behind a UART FIFO, a host-side input
/// buffer or a PS/2 device's output queue. Not thread-safe: the owning device holds its lock around
/// every call. Never allocates after construction.
/// </summary>
internal sealed class ByteRing(int capacity)
{
    private readonly byte[] _bytes = new byte[capacity];
    private int _head;
    private int _count;

    public int Capacity => _bytes.Length;
    public int Count => _count;
    public int Free => _bytes.Length - _count;
    public bool IsEmpty => _count == 0;
    public bool IsFull => _count == _bytes.Length;

    /// <summary>Appends <paramref name="value"/>; false (and nothing stored) when the queue is full.</summary>
    public bool TryEnqueue(byte value)
    {
        if (_count == _bytes.Length) return false;
        _bytes[(_head + _count) % _bytes.Length] = value;
        _count++;
        return true;
    }

    /// <summary>Appends as many of <paramref name="values"/> as fit; returns how many were taken.</summary>
    public int Enqueue(ReadOnlySpan<byte> values)
    {
        int taken = 0;
        while (taken < values.Length && TryEnqueue(values[taken])) taken++;
        return taken;
    }

    /// <summary>Removes the oldest byte; false when the queue is empty.</summary>
    public bool TryDequeue(out byte value)
    {
        if (_count == 0)
        {
            value = 0;
            return false;
        }
        value = _bytes[_head];
        _head = (_head + 1) % _bytes.Length;
        _count--;
        return true;
    }

    public void Clear()
    {
        _head = 0;
        _count = 0;
    }

    /// <summary>The queued bytes, oldest first (for saving state; allocates).</summary>
    public byte[] ToArray()
    {
        var bytes = new byte[_count];
        for (int i = 0; i < _count; i++) bytes[i] = _bytes[(_head + i) % _bytes.Length];
        return bytes;
    }

    /// <summary>Replaces the contents with <paramref name="values"/>, oldest first; the caller checked they fit.</summary>
    public void Load(ReadOnlySpan<byte> values)
    {
        if (values.Length > _bytes.Length) throw new ArgumentException("more bytes than the queue holds", nameof(values));
        Clear();
        Enqueue(values);
    }
}
