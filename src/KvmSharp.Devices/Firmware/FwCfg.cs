using System.Buffers.Binary;
using System.Text;
using KvmSharp.Devices.Bus;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Devices.Firmware;

/// <summary>
/// QEMU's firmware configuration device (QEMU docs/specs/fw_cfg.rst), the channel through which SeaBIOS and OVMF learn
/// the machine: at I/O ports 0x510 (selector, 16-bit little-endian, write-only), 0x511 (data, one byte per read, zeros
/// past an item's end) and 0x514-0x51B (the DMA address register, 64-bit big-endian; a write of its low half at 0x518,
/// or of all 8 bytes at 0x514, starts a transfer; reading it gives "QEMU CFG"). Items are blobs under 16-bit keys;
/// named files (keys from 0x20) are listed in the file directory (key 0x19). A DMA transfer reads a big-endian
/// FWCfgDmaAccess {control, length, address} from guest RAM, then selects, reads, skips or writes, and stores the
/// result in control: 0 done, bit 0 error. Every guest address and length is checked; a bad one sets the error bit.
/// Items are added while the machine is built; the guest's accesses come from vCPU threads and allocate nothing.
/// </summary>
public sealed class FwCfg : IBusDevice, IStateful<FwCfgState>
{
    public const ushort PortBase = 0x510;
    public const int PortCount = 12;

    // Keys (fw_cfg.rst, "Firmware Configuration Items"; the rest from QEMU's fw_cfg keys list).
    public const ushort KeySignature = 0x00, KeyId = 0x01, KeyFileDir = 0x19, FirstFileKey = 0x20;
    private const int MaxFiles = 0x1000;
    private const int FileNameBytes = 56;

    // DMA control bits (fw_cfg.rst, "Guest-side DMA Interface").
    private const uint DmaError = 1, DmaRead = 2, DmaSkip = 4, DmaSelect = 8, DmaWrite = 16;
    private static ReadOnlySpan<byte> DmaSignature => "QEMU CFG"u8;

    private readonly GuestMemory _memory;
    private readonly Dictionary<ushort, Item> _items = [];
    private readonly SortedDictionary<string, ushort> _files = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private ushort _nextFileKey = FirstFileKey;
    private ushort _selector;
    private uint _offset;
    private uint _dmaHigh;

    private sealed class Item(byte[] data, bool guestWritable)
    {
        public byte[] Data = data;
        public bool GuestWritable { get; } = guestWritable;
    }

    public FwCfg(GuestMemory memory)
    {
        _memory = memory;
        AddItem(KeySignature, "QEMU"u8.ToArray());
        var id = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(id, 0b11); // traditional interface and DMA
        AddItem(KeyId, id);
        RebuildDirectory();
    }

    /// <summary>Puts <paramref name="data"/> under a numbered key (e.g. FW_CFG_NB_CPUS); replaces what was there.</summary>
    public void AddItem(ushort key, byte[] data)
    {
        if (key is KeyFileDir || key >= FirstFileKey && key < 0x8000)
            throw new ArgumentOutOfRangeException(nameof(key), $"key 0x{key:x} is the file directory's or a file's; use AddFile");
        lock (_lock) _items[key] = new Item(data, guestWritable: false);
    }

    /// <summary>
    /// Adds a named file (e.g. "etc/e820", "bootorder") and returns its key; <paramref name="guestWritable"/> lets the
    /// guest overwrite it (in place, never resized) through DMA, as QEMU allows for a few.
    /// </summary>
    public ushort AddFile(string name, byte[] data, bool guestWritable = false)
    {
        int nameBytes = Encoding.ASCII.GetByteCount(name);
        if (nameBytes == 0 || nameBytes >= FileNameBytes || name.Any(c => c is < ' ' or > '~'))
            throw new ArgumentException($"fw_cfg file name '{name}' must be 1 to {FileNameBytes - 1} printable ASCII characters", nameof(name));
        lock (_lock)
        {
            if (!_files.TryGetValue(name, out ushort key))
            {
                if (_files.Count >= MaxFiles) throw new InvalidOperationException($"fw_cfg holds at most {MaxFiles} files");
                key = _nextFileKey++;
                _files.Add(name, key);
            }
            _items[key] = new Item(data, guestWritable);
            RebuildDirectory();
            return key;
        }
    }

    /// <summary>The directory (key 0x19): a big-endian count, then per file its size, key, two reserved bytes and a NUL-padded name.</summary>
    private void RebuildDirectory()
    {
        var directory = new byte[4 + 64 * _files.Count];
        BinaryPrimitives.WriteUInt32BigEndian(directory, (uint)_files.Count);
        int at = 4;
        foreach (var (name, key) in _files)
        {
            BinaryPrimitives.WriteUInt32BigEndian(directory.AsSpan(at), (uint)_items[key].Data.Length);
            BinaryPrimitives.WriteUInt16BigEndian(directory.AsSpan(at + 4), key);
            Encoding.ASCII.GetBytes(name, directory.AsSpan(at + 8, FileNameBytes));
            at += 64;
        }
        _items[KeyFileDir] = new Item(directory, guestWritable: false);
    }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        lock (_lock)
        {
            if (offset == 1)
            {
                foreach (ref byte b in data) b = NextDataByte();
            }
            else if (offset >= 4 && offset < PortCount)
            {
                int from = (int)offset - 4;
                int n = Math.Min(data.Length, DmaSignature.Length - from);
                DmaSignature.Slice(from, n).CopyTo(data);
            }
        }
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        lock (_lock)
        {
            switch (offset)
            {
                case 0:
                    Select(data.Length >= 2 ? BinaryPrimitives.ReadUInt16LittleEndian(data) : data[0]);
                    break;
                case 4 when data.Length == 8:
                    Transfer(BinaryPrimitives.ReadUInt64BigEndian(data));
                    break;
                case 4 when data.Length == 4:
                    _dmaHigh = BinaryPrimitives.ReadUInt32BigEndian(data);
                    break;
                case 8 when data.Length == 4:
                    Transfer((ulong)_dmaHigh << 32 | BinaryPrimitives.ReadUInt32BigEndian(data));
                    break;
                // The data port's writes are ignored, as QEMU has done since 2.4; other widths are no access we know.
            }
        }
    }

    private void Select(ushort key)
    {
        _selector = key;
        _offset = 0;
    }

    private byte NextDataByte()
    {
        if (!_items.TryGetValue(_selector, out var item) || _offset >= item.Data.Length) return 0;
        return item.Data[_offset++];
    }

    /// <summary>One DMA operation described at <paramref name="accessAddress"/>; the register reads 0 again afterwards.</summary>
    private void Transfer(ulong accessAddress)
    {
        _dmaHigh = 0;
        var access = new GuestAddress(accessAddress);
        Span<byte> header = stackalloc byte[16];
        // A descriptor outside RAM leaves nowhere to report to: the guest sees its control word unchanged.
        if (!_memory.TryRead(access, header)) return;
        uint control = BinaryPrimitives.ReadUInt32BigEndian(header);
        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[4..]);
        ulong address = BinaryPrimitives.ReadUInt64BigEndian(header[8..]);
        if ((control & DmaSelect) != 0) Select((ushort)(control >> 16));
        bool ok = (control & DmaRead) != 0 ? DmaReadInto(address, length)
                : (control & DmaWrite) != 0 ? DmaWriteFrom(address, length)
                : (control & DmaSkip) == 0 || Skip(length);
        Span<byte> result = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(result, ok ? 0 : DmaError);
        _memory.TryWrite(access, result);
    }

    /// <summary>The item's next bytes into guest RAM; past the item's end the guest gets zeros (as QEMU gives).</summary>
    private bool DmaReadInto(ulong address, uint length)
    {
        if (length > int.MaxValue || !_memory.TryGetSpan(new GuestAddress(address), (int)length, out var target)) return false;
        ReadOnlySpan<byte> data = _items.TryGetValue(_selector, out var item) ? item.Data : [];
        int available = (int)Math.Min(length, (uint)Math.Max(0, data.Length - (long)_offset));
        data.Slice((int)Math.Min(_offset, (uint)data.Length), available).CopyTo(target);
        target[available..].Clear();
        _offset += (uint)available;
        return true;
    }

    /// <summary>Guest RAM into a guest-writable item, in place: a write that would start or end past the item is refused whole.</summary>
    private bool DmaWriteFrom(ulong address, uint length)
    {
        if (!_items.TryGetValue(_selector, out var item) || !item.GuestWritable) return false;
        if ((ulong)_offset + length > (ulong)item.Data.Length) return false;
        if (!_memory.TryGetReadOnlySpan(new GuestAddress(address), (int)length, out var source)) return false;
        source.CopyTo(item.Data.AsSpan((int)_offset));
        _offset += length;
        return true;
    }

    private bool Skip(uint length)
    {
        int size = _items.TryGetValue(_selector, out var item) ? item.Data.Length : 0;
        _offset = (uint)Math.Min((ulong)_offset + length, (ulong)size);
        return true;
    }

    public FwCfgState SaveState()
    {
        lock (_lock)
        {
            return new FwCfgState
            {
                Selector = _selector, Offset = _offset, DmaAddressHigh = _dmaHigh,
                WritableItems = [.. _items.Where(p => p.Value.GuestWritable).OrderBy(p => p.Key).Select(p => new FwCfgWrittenItem(p.Key, [.. p.Value.Data]))],
            };
        }
    }

    /// <summary>Takes up a saved state on a device built from the same config: the writable items must be the same ones, the same sizes.</summary>
    public void RestoreState(FwCfgState state)
    {
        StateCheck.NotNull(state, "fw_cfg");
        StateCheck.NotNull(state.WritableItems, "fw_cfg.WritableItems");
        lock (_lock)
        {
            var writable = _items.Where(p => p.Value.GuestWritable).Select(p => p.Key).Order().ToArray();
            StateCheck.That(writable.SequenceEqual(state.WritableItems.Select(i => i.Key)), "fw_cfg.WritableItems",
                "the saved writable items are not this machine's");
            foreach (var saved in state.WritableItems)
            {
                StateCheck.NotNull(saved.Data, "fw_cfg.WritableItems.Data");
                StateCheck.That(saved.Data.Length == _items[saved.Key].Data.Length, "fw_cfg.WritableItems.Data",
                    $"item 0x{saved.Key:x} has {saved.Data.Length} bytes; this machine's has {_items[saved.Key].Data.Length}");
            }
            foreach (var saved in state.WritableItems) _items[saved.Key].Data = [.. saved.Data];
            _selector = state.Selector;
            _offset = state.Offset;
            _dmaHigh = state.DmaAddressHigh;
        }
    }
}
