using System.Buffers.Binary;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// One function's configuration space: 256 bytes (conventional PCI) or 4 KiB (PCI Express, reachable
/// only through ECAM). Every byte has a write mask, so read-only fields stay read-only whatever the
/// guest writes, and a write-one-to-clear mask for status bits. The guest reaches it through
/// <see cref="Read"/>/<see cref="Write"/>; the device model sets up the read-only fields with the
/// typed setters before the guest runs. Offsets and lengths come from the guest and are checked:
/// bytes outside the space read as all ones and writes to them are dropped.
/// </summary>
public sealed partial class PciConfigSpace
{
    public const int ConventionalSize = 256;
    public const int ExtendedSize = 4096;

    // Type 0 header offsets (PCI Local Bus spec 3.0 §6.1, figure 6-1).
    public const int VendorIdOffset = 0x00, DeviceIdOffset = 0x02, CommandOffset = 0x04, StatusOffset = 0x06;
    public const int RevisionOffset = 0x08, ClassCodeOffset = 0x09, HeaderTypeOffset = 0x0E;
    public const int BarOffset = 0x10, SubsystemVendorIdOffset = 0x2C, SubsystemIdOffset = 0x2E;
    public const int CapabilitiesPointerOffset = 0x34, InterruptLineOffset = 0x3C, InterruptPinOffset = 0x3D;

    // Command register bits (§6.2.2).
    public const ushort CommandIoSpace = 1 << 0, CommandMemorySpace = 1 << 1, CommandBusMaster = 1 << 2;
    public const ushort CommandInterruptDisable = 1 << 10;
    // Parity error response (6) and SERR# enable (8) are kept as plain read/write bits; we never signal either.
    private const ushort CommandWritable = CommandIoSpace | CommandMemorySpace | CommandBusMaster
                                           | (1 << 6) | (1 << 8) | CommandInterruptDisable;

    // Status register bits (§6.2.3): bit 3 interrupt status and bit 4 capabilities list are read-only;
    // the error bits 8 and 11–15 are write-one-to-clear.
    public const ushort StatusInterrupt = 1 << 3, StatusCapabilitiesList = 1 << 4;
    private const ushort StatusWriteOneToClear = 0xF900;

    /// <summary>The first byte the capability allocator hands out: just past the type 0 header.</summary>
    private const int FirstCapabilityOffset = 0x40;

    private readonly byte[] _data;
    private readonly byte[] _writable;
    private readonly byte[] _writeOneToClear;
    private readonly PciBar?[] _bars = new PciBar?[6];
    private readonly object _lock = new();
    private int _nextCapability = FirstCapabilityOffset;
    private int _lastCapability;

    public PciConfigSpace(ushort vendorId, ushort deviceId, uint classCode, bool extended = false)
    {
        int size = extended ? ExtendedSize : ConventionalSize;
        _data = new byte[size];
        _writable = new byte[size];
        _writeOneToClear = new byte[size];
        Set16(VendorIdOffset, vendorId);
        Set16(DeviceIdOffset, deviceId);
        _data[ClassCodeOffset] = (byte)classCode;            // programming interface
        _data[ClassCodeOffset + 1] = (byte)(classCode >> 8);  // sub-class
        _data[ClassCodeOffset + 2] = (byte)(classCode >> 16); // base class
        SetMask16(CommandOffset, CommandWritable);
        BinaryPrimitives.WriteUInt16LittleEndian(_writeOneToClear.AsSpan(StatusOffset), StatusWriteOneToClear);
        _writable[InterruptLineOffset] = 0xFF; // scratch register for the OS's routing (§6.2.4)
    }

    public int Size => _data.Length;
    public ushort Command { get { lock (_lock) return Get16(CommandOffset); } }
    public ushort Status { get { lock (_lock) return Get16(StatusOffset); } }
    public byte InterruptLine { get { lock (_lock) return _data[InterruptLineOffset]; } }

    /// <summary>Interrupt pin: 0 for none, 1–4 for INTA#–INTD# (§6.2.4); read-only to the guest.</summary>
    public byte InterruptPin
    {
        get { lock (_lock) return _data[InterruptPinOffset]; }
        set { if (value > 4) throw new ArgumentOutOfRangeException(nameof(value)); lock (_lock) _data[InterruptPinOffset] = value; }
    }

    public byte Revision { set { lock (_lock) _data[RevisionOffset] = value; } }

    public void SetSubsystem(ushort vendorId, ushort subsystemId)
    {
        lock (_lock)
        {
            Set16(SubsystemVendorIdOffset, vendorId);
            Set16(SubsystemIdOffset, subsystemId);
        }
    }

    /// <summary>Header type bit 7 tells the OS to scan functions 1–7 of the slot (§6.2.1).</summary>
    public bool MultiFunction
    {
        set { lock (_lock) _data[HeaderTypeOffset] = (byte)((_data[HeaderTypeOffset] & 0x7F) | (value ? 0x80 : 0)); }
    }

    /// <summary>Guest read of <paramref name="data"/>.Length bytes at <paramref name="offset"/>; bytes past the space read 0xFF.</summary>
    public void Read(int offset, Span<byte> data)
    {
        lock (_lock)
            for (int i = 0; i < data.Length; i++)
            {
                long at = (long)offset + i;
                data[i] = at >= 0 && at < _data.Length ? _data[at] : (byte)0xFF;
            }
    }

    /// <summary>Guest write: only bits the mask allows change; write-one-to-clear bits clear where a one is written.</summary>
    public void Write(int offset, ReadOnlySpan<byte> data)
    {
        lock (_lock)
            for (int i = 0; i < data.Length; i++)
            {
                long at = (long)offset + i;
                if (at < 0 || at >= _data.Length) continue;
                byte v = data[i], w = _writable[at];
                _data[at] = (byte)(((_data[at] & ~w) | (v & w)) & ~(v & _writeOneToClear[at]));
            }
    }

    public uint ReadUInt32(int offset)
    {
        Span<byte> b = stackalloc byte[4];
        Read(offset, b);
        return BinaryPrimitives.ReadUInt32LittleEndian(b);
    }

    // ---- BARs (§6.2.5.1) ----

    /// <summary>
    /// Declares BAR <paramref name="index"/> (0–5); a 64-bit memory BAR also takes index+1 for the upper
    /// half. The size must be a power of two (memory at least 16 bytes, I/O 4 to 256 bytes, §6.2.5.1).
    /// The write mask leaves the size bits and the type bits read-only, so writing all ones and reading
    /// back yields the size mask the OS decodes.
    /// </summary>
    public void DefineBar(int index, PciBarKind kind, ulong size, bool prefetchable = false)
    {
        bool is64 = kind == PciBarKind.Memory64;
        if (index < 0 || index > 5 || (is64 && index > 4))
            throw new ArgumentOutOfRangeException(nameof(index));
        ulong min = kind == PciBarKind.Io ? 4UL : 16UL;
        ulong max = kind == PciBarKind.Io ? 256UL : kind == PciBarKind.Memory32 ? 1UL << 31 : 1UL << 63;
        if (size < min || size > max || (size & (size - 1)) != 0)
            throw new ArgumentOutOfRangeException(nameof(size), $"BAR{index}: size 0x{size:x} is not a power of two in [0x{min:x}, 0x{max:x}]");
        if (kind == PciBarKind.Io && prefetchable)
            throw new ArgumentException("an I/O BAR cannot be prefetchable", nameof(prefetchable));
        lock (_lock)
        {
            if (_bars[index] is not null || (is64 && _bars[index + 1] is not null) || IsUpperHalf(index))
                throw new InvalidOperationException($"BAR{index} is already defined");
            _bars[index] = new PciBar(kind, size, prefetchable);
            uint flags = kind switch
            {
                PciBarKind.Io => 0x1u,                             // bit 0: I/O space
                PciBarKind.Memory64 => 0x4u | (prefetchable ? 0x8u : 0), // bits 2:1 = 10b: 64-bit
                _ => prefetchable ? 0x8u : 0,
            };
            int at = BarOffset + 4 * index;
            ulong mask = ~(size - 1);
            Set32(at, flags);
            SetMask32(at, (uint)mask & (kind == PciBarKind.Io ? ~0x3u : ~0xFu));
            if (is64) SetMask32(at + 4, (uint)(mask >> 32));
        }
    }

    public PciBar? GetBar(int index) => (uint)index < 6 ? _bars[index] : null;

    /// <summary>The base the guest programmed into BAR <paramref name="index"/> (both halves for a 64-bit BAR).</summary>
    public ulong BarAddress(int index)
    {
        var bar = GetBar(index) ?? throw new ArgumentOutOfRangeException(nameof(index));
        lock (_lock)
        {
            ulong low = Get32(BarOffset + 4 * index);
            return bar.Kind switch
            {
                PciBarKind.Io => low & ~0x3UL,
                PciBarKind.Memory64 => (low & ~0xFUL) | ((ulong)Get32(BarOffset + 4 * index + 4) << 32),
                _ => low & ~0xFUL,
            };
        }
    }

    private bool IsUpperHalf(int index) => index > 0 && _bars[index - 1] is { Kind: PciBarKind.Memory64 };

    // ---- Capabilities (§6.7) ----

    /// <summary>
    /// Appends a capability of <paramref name="length"/> bytes (ID and next pointer included) to the
    /// list: sets status bit 4, points 0x34 at the first one and links each to the next. Returns its
    /// offset, dword aligned as §6.7 requires. The capability's own fields start read-only; the owner
    /// opens the ones the guest may write with <see cref="SetWriteMask"/>.
    /// </summary>
    public int AddCapability(byte id, int length)
    {
        if (length < 2) throw new ArgumentOutOfRangeException(nameof(length));
        lock (_lock)
        {
            int at = _nextCapability;
            if (at + length > ConventionalSize)
                throw new InvalidOperationException($"capability 0x{id:x2} does not fit in the first 256 bytes");
            _data[at] = id;
            _data[at + 1] = 0;
            if (_lastCapability == 0)
            {
                _data[CapabilitiesPointerOffset] = (byte)at;
                Set16(StatusOffset, (ushort)(Get16(StatusOffset) | StatusCapabilitiesList));
            }
            else
                _data[_lastCapability + 1] = (byte)at;
            _lastCapability = at;
            _nextCapability = (at + length + 3) & ~3;
            return at;
        }
    }

    // ---- Device-side access (not masked) ----

    public void SetWriteMask(int offset, ReadOnlySpan<byte> mask)
    {
        lock (_lock) mask.CopyTo(_writable.AsSpan(offset));
    }

    /// <summary>Stores a value as the device (not the guest) sees fit: ignores the write masks.</summary>
    public void SetBytes(int offset, ReadOnlySpan<byte> value)
    {
        lock (_lock) value.CopyTo(_data.AsSpan(offset));
    }

    /// <summary>Sets or clears status bit 3 (interrupt status), which the guest can only read (§6.2.3).</summary>
    public void SetInterruptStatus(bool asserted)
    {
        lock (_lock)
        {
            ushort s = Get16(StatusOffset);
            Set16(StatusOffset, (ushort)(asserted ? s | StatusInterrupt : s & ~StatusInterrupt));
        }
    }

    private ushort Get16(int at) => BinaryPrimitives.ReadUInt16LittleEndian(_data.AsSpan(at));
    private uint Get32(int at) => BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(at));
    private void Set16(int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(_data.AsSpan(at), v);
    private void Set32(int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(_data.AsSpan(at), v);
    private void SetMask16(int at, ushort v) => BinaryPrimitives.WriteUInt16LittleEndian(_writable.AsSpan(at), v);
    private void SetMask32(int at, uint v) => BinaryPrimitives.WriteUInt32LittleEndian(_writable.AsSpan(at), v);
}
