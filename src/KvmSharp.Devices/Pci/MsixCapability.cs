using System.Buffers.Binary;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// The MSI-X capability and its structures (PCI Local Bus spec 3.0 §6.8.2). In config space: Message
/// Control (table size N−1 read-only, Function Mask bit 14 and MSI-X Enable bit 15 writable), the
/// table's BAR indicator and offset, and the PBA's. In BAR memory: the table (16 bytes per vector:
/// message address low/high, message data, vector control whose bit 0 is the per-vector mask, set at
/// reset) and the read-only pending bit array. <see cref="Signal"/> sends a vector's message when MSI-X
/// is enabled and neither the function nor the vector is masked; otherwise it sets the pending bit,
/// and clearing the mask later sends the message and clears the bit (§6.8.2.9).
/// The owning device routes BAR accesses through <see cref="TryRead"/>/<see cref="TryWrite"/> and calls
/// <see cref="ConfigWritten"/> from its own <see cref="IPciDevice.ConfigWritten"/>.
/// </summary>
public sealed partial class MsixCapability
{
    public const byte CapabilityId = 0x11;
    private const int CapabilityLength = 12;
    private const ushort FunctionMaskBit = 1 << 14, EnableBit = 1 << 15;
    private const int EntrySize = 16;
    private const uint VectorMaskBit = 1;

    private readonly PciConfigSpace _config;
    private readonly IMsiSink _sink;
    private readonly int _offset;
    private readonly byte[] _table;
    private readonly ulong[] _pending;
    private readonly object _lock = new();
    private bool _held;

    /// <param name="vectors">1–2048 table entries.</param>
    /// <param name="tableOffset">Byte offset of the table in BAR <paramref name="tableBar"/>; 8-byte aligned.</param>
    /// <param name="pbaOffset">Byte offset of the PBA in BAR <paramref name="pbaBar"/>; 8-byte aligned.</param>
    public MsixCapability(PciConfigSpace config, IMsiSink sink, int vectors,
                          int tableBar, uint tableOffset, int pbaBar, uint pbaOffset)
    {
        if (vectors is < 1 or > 2048) throw new ArgumentOutOfRangeException(nameof(vectors));
        if ((tableOffset & 7) != 0 || (pbaOffset & 7) != 0) throw new ArgumentException("MSI-X table and PBA offsets must be 8-byte aligned");
        CheckBar(config, tableBar, tableOffset, (ulong)vectors * EntrySize);
        CheckBar(config, pbaBar, pbaOffset, PbaBytes(vectors));
        _config = config;
        _sink = sink;
        Vectors = vectors;
        TableBar = tableBar;
        TableOffset = tableOffset;
        PbaBar = pbaBar;
        PbaOffset = pbaOffset;
        _table = new byte[vectors * EntrySize];
        _pending = new ulong[(vectors + 63) / 64];
        for (int v = 0; v < vectors; v++)
            BinaryPrimitives.WriteUInt32LittleEndian(_table.AsSpan(v * EntrySize + 12), VectorMaskBit);

        _offset = config.AddCapability(CapabilityId, CapabilityLength);
        Span<byte> fields = stackalloc byte[10];
        BinaryPrimitives.WriteUInt16LittleEndian(fields, (ushort)(vectors - 1));
        BinaryPrimitives.WriteUInt32LittleEndian(fields[2..], tableOffset | (uint)tableBar);
        BinaryPrimitives.WriteUInt32LittleEndian(fields[6..], pbaOffset | (uint)pbaBar);
        config.SetBytes(_offset + 2, fields);
        config.SetWriteMask(_offset + 2, [0x00, (FunctionMaskBit | EnableBit) >> 8]);
    }

    public int Vectors { get; }
    public int TableBar { get; }
    public uint TableOffset { get; }
    public int PbaBar { get; }
    public uint PbaOffset { get; }
    public int CapabilityOffset => _offset;

    public bool Enabled => (Control & EnableBit) != 0;
    public bool FunctionMasked => (Control & FunctionMaskBit) != 0;

    private ushort Control => (ushort)_config.ReadUInt32(_offset + 2);

    public bool IsPending(int vector)
    {
        if ((uint)vector >= (uint)Vectors) return false;
        lock (_lock) return (_pending[vector >> 6] & (1UL << vector)) != 0;
    }

    /// <summary>
    /// The device's interrupt request for <paramref name="vector"/>. Returns false when MSI-X is not
    /// enabled (the device should use INTx then, §6.8.2) or the vector is out of range; true when the
    /// message was sent or left pending.
    /// </summary>
    public bool Signal(int vector)
    {
        if ((uint)vector >= (uint)Vectors) return false;
        ulong address;
        uint data;
        lock (_lock)
        {
            if (!Enabled) return false;
            if (FunctionMasked || IsVectorMasked(vector) || _held)
            {
                _pending[vector >> 6] |= 1UL << vector;
                return true;
            }
            (address, data) = Message(vector);
        }
        _sink.Deliver(address, data);
        return true;
    }

    /// <summary>Handles a read if it falls in the table or PBA of <paramref name="bar"/>; false when it is not ours.</summary>
    public bool TryRead(int bar, ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            if (bar == TableBar && Within(offset, data.Length, TableOffset, (ulong)_table.Length, out int t))
            {
                _table.AsSpan(t, data.Length).CopyTo(data);
                return true;
            }
            if (bar == PbaBar && Within(offset, data.Length, PbaOffset, PbaBytes(Vectors), out int p))
            {
                for (int i = 0; i < data.Length; i++)
                    data[i] = (byte)(_pending[(p + i) >> 3] >> (8 * ((p + i) & 7)));
                return true;
            }
        }
        return false;
    }

    /// <summary>Handles a write if it falls in the table or PBA (read-only: dropped); false when it is not ours.</summary>
    public bool TryWrite(int bar, ulong offset, ReadOnlySpan<byte> data)
    {
        if (bar == PbaBar && Within(offset, data.Length, PbaOffset, PbaBytes(Vectors), out _)) return true;
        if (bar != TableBar || !Within(offset, data.Length, TableOffset, (ulong)_table.Length, out int t)) return false;
        lock (_lock) data.CopyTo(_table.AsSpan(t));
        // An access may span two entries (a qword write is the widest the bus gives us, 8 bytes).
        DeliverPending(t / EntrySize, (t + data.Length - 1) / EntrySize);
        return true;
    }

    /// <summary>
    /// From here until <see cref="ReleaseMessages"/> nothing is sent: a signalled vector is left pending as if it
    /// were masked (the owner is paused; the pending bits are saved with the table).
    /// </summary>
    public void HoldMessages()
    {
        lock (_lock) _held = true;
    }

    /// <summary>Ends <see cref="HoldMessages"/> and sends every pending vector that is not masked.</summary>
    public void ReleaseMessages()
    {
        lock (_lock) _held = false;
        DeliverPending(0, Vectors - 1);
    }

    /// <summary>Call after any config write: clearing Function Mask or setting Enable may release pending vectors.</summary>
    public void ConfigWritten() => DeliverPending(0, Vectors - 1);

    private void DeliverPending(int first, int last)
    {
        for (int v = first; v <= last; v++)
        {
            ulong address;
            uint data;
            lock (_lock)
            {
                if ((_pending[v >> 6] & (1UL << v)) == 0 || !Enabled || FunctionMasked || IsVectorMasked(v) || _held) continue;
                _pending[v >> 6] &= ~(1UL << v);
                (address, data) = Message(v);
            }
            _sink.Deliver(address, data);
        }
    }

    private bool IsVectorMasked(int v) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(_table.AsSpan(v * EntrySize + 12)) & VectorMaskBit) != 0;

    private (ulong Address, uint Data) Message(int v)
    {
        var e = _table.AsSpan(v * EntrySize);
        return (BinaryPrimitives.ReadUInt64LittleEndian(e), BinaryPrimitives.ReadUInt32LittleEndian(e[8..]));
    }

    private static ulong PbaBytes(int vectors) => (ulong)(vectors + 63) / 64 * 8;

    private static bool Within(ulong offset, int length, ulong start, ulong size, out int at)
    {
        at = 0;
        if (offset < start || offset - start >= size || (ulong)length > size - (offset - start)) return false;
        at = (int)(offset - start);
        return true;
    }

    private static void CheckBar(PciConfigSpace config, int bar, uint offset, ulong length)
    {
        if (config.GetBar(bar) is not { IsMemory: true } shape)
            throw new ArgumentException($"MSI-X structures need memory BAR{bar}, which is not defined");
        if (offset + length > shape.Size)
            throw new ArgumentException($"MSI-X structure at 0x{offset:x}+0x{length:x} does not fit in BAR{bar} (0x{shape.Size:x})");
    }
}
