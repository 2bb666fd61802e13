using KvmSharp.Devices.Bus;
using KvmSharp.State;

namespace KvmSharp.Devices.Firmware;

/// <summary>
/// A writable NOR flash chip with the Intel/Sharp command set of the Common Flash Interface (JEDEC JESD68.01; Intel's
/// "Basic Command Set" as in its 28F-series datasheets), as QEMU's pflash_cfi01 presents OVMF's variable store on the PC
/// machines: byte-wide, uniform erase blocks, every access trapped (no read-array mapping, on either accelerator).
/// <para>Commands, written anywhere in the chip: 0xFF/0x00 read array; 0x70 read status; 0x50 clear status; 0x90 read
/// identifier; 0x98 CFI query; 0x10/0x40 then one write: program; 0x20 then 0xD0 at an address in the block: erase
/// that block (0xFF everywhere). After a program or erase the chip reads its status register (0x80 = ready) until
/// the next read-array command, as the real part does; OVMF's driver (OvmfPkg QemuFlashFvbServicesRuntimeDxe) relies
/// on exactly this when it tells flash from RAM or ROM: clear status, then read status, must give 0x00.</para>
/// <para>A program stores the byte as given, as QEMU's model does (real NOR could only clear bits); OVMF is written
/// and tested against that. Every program and erase is written through to the <see cref="IFlashBacking"/> before the
/// guest's write returns, so the VM's variable file is current even if the VMM dies. An unknown command, or an
/// erase not confirmed by 0xD0, sets the status register's error bits (command sequence error, 0x30) and returns to
/// read array. Buffered programming (0xE8), block locking and suspend are not implemented: OVMF uses none of them.</para>
/// </summary>
public sealed class CfiFlash : IBusDevice, IStateful<CfiFlashState>
{
    // Command bytes (Intel/Sharp basic command set).
    private const byte ReadArray = 0xFF, ReadArrayAlt = 0x00, ReadStatus = 0x70, ClearStatus = 0x50, ReadIdentifier = 0x90,
        CfiQuery = 0x98, Program = 0x40, ProgramAlt = 0x10, BlockErase = 0x20, Confirm = 0xD0;
    // Status register bits: 7 ready, 5 erase error, 4 program error (both: command sequence error).
    private const byte StatusReady = 0x80, StatusSequenceError = 0x30;
    /// <summary>Intel's JEDEC manufacturer code and the device code these reads give.</summary>
    public const byte ManufacturerIntel = 0x89, DeviceCode = 0x18;

    private readonly byte[] _contents;
    private readonly IFlashBacking? _backing;
    private readonly byte[] _cfiTable;
    private readonly Lock _lock = new();
    private CfiFlashMode _mode = CfiFlashMode.ReadArray;
    private byte _status = StatusReady;

    /// <param name="contents">The chip's contents (the device keeps this array).</param>
    /// <param name="blockSize">The erase block, a power of two dividing the size (OVMF's is 4 KiB).</param>
    /// <param name="backing">Where programs and erases are written through; null: the contents live only in memory.</param>
    public CfiFlash(byte[] contents, int blockSize, IFlashBacking? backing)
    {
        if (blockSize <= 0 || (blockSize & (blockSize - 1)) != 0 || contents.Length == 0 || contents.Length % blockSize != 0)
            throw new ArgumentException($"a flash of {contents.Length} bytes cannot have {blockSize}-byte erase blocks");
        _contents = contents;
        BlockSize = blockSize;
        _backing = backing;
        _cfiTable = BuildCfiTable(contents.Length, blockSize);
    }

    public int Size => _contents.Length;

    public int BlockSize { get; }

    /// <summary>A copy of the contents, as the guest's read-array reads would give them.</summary>
    public byte[] Snapshot()
    {
        lock (_lock) return (byte[])_contents.Clone();
    }

    public void Read(ulong offset, Span<byte> data)
    {
        lock (_lock)
        {
            for (int i = 0; i < data.Length; i++)
            {
                ulong address = offset + (ulong)i;
                data[i] = address < (ulong)_contents.Length ? ReadByte((int)address) : (byte)0xFF;
            }
        }
    }

    private byte ReadByte(int address) => _mode switch
    {
        CfiFlashMode.ReadArray => _contents[address],
        CfiFlashMode.ReadIdentifier => (address & 1) == 0 ? ManufacturerIntel : DeviceCode,
        CfiFlashMode.CfiQuery => (address & 0xFF) < _cfiTable.Length ? _cfiTable[address & 0xFF] : (byte)0,
        _ => _status, // status, and while a program or erase waits for its second cycle
    };

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty || offset >= (ulong)_contents.Length || (ulong)data.Length > (ulong)_contents.Length - offset) return;
        int address = (int)offset;
        lock (_lock)
        {
            switch (_mode)
            {
                case CfiFlashMode.ProgramPending:
                    // The data cycle: as wide as the guest's write.
                    data.CopyTo(_contents.AsSpan(address));
                    _backing?.Write(address, data);
                    _status |= StatusReady;
                    _mode = CfiFlashMode.ReadStatus;
                    return;
                case CfiFlashMode.ErasePending:
                    if (data[0] == Confirm)
                    {
                        int block = address & ~(BlockSize - 1);
                        _contents.AsSpan(block, BlockSize).Fill(0xFF);
                        _backing?.Write(block, _contents.AsSpan(block, BlockSize));
                        _status |= StatusReady;
                        _mode = CfiFlashMode.ReadStatus;
                    }
                    else
                    {
                        _status |= StatusSequenceError;
                        _mode = CfiFlashMode.ReadArray;
                    }
                    return;
            }
            _mode = data[0] switch
            {
                ReadArray or ReadArrayAlt => CfiFlashMode.ReadArray,
                ReadStatus => CfiFlashMode.ReadStatus,
                ReadIdentifier => CfiFlashMode.ReadIdentifier,
                CfiQuery => CfiFlashMode.CfiQuery,
                Program or ProgramAlt => CfiFlashMode.ProgramPending,
                BlockErase => CfiFlashMode.ErasePending,
                ClearStatus => ClearStatusAndReadArray(),
                _ => SequenceError(),
            };
        }
    }

    private CfiFlashMode ClearStatusAndReadArray()
    {
        _status = 0;
        return CfiFlashMode.ReadArray;
    }

    private CfiFlashMode SequenceError()
    {
        _status |= StatusSequenceError;
        return CfiFlashMode.ReadArray;
    }

    /// <summary>The CFI query structure (JESD68.01 tables 1, 4, 5) for a byte-wide chip with one uniform block region.</summary>
    private static byte[] BuildCfiTable(int size, int blockSize)
    {
        var table = new byte[0x31];
        "QRY"u8.CopyTo(table.AsSpan(0x10));
        table[0x13] = 0x01; // primary command set: Intel/Sharp extended
        table[0x1B] = 0x45; table[0x1C] = 0x55; // Vcc 4.5-5.5 V
        table[0x1F] = 0x01; table[0x21] = 0x01; // typical program 2 µs, block erase 2 ms
        table[0x23] = 0x01; table[0x25] = 0x01; // maximum: twice typical
        table[0x27] = (byte)(32 - int.LeadingZeroCount(size - 1)); // 2^n bytes covering the chip
        table[0x2C] = 1; // one erase block region
        int blocks = size / blockSize - 1;
        table[0x2D] = (byte)blocks; table[0x2E] = (byte)(blocks >> 8);
        int units = blockSize / 256;
        table[0x2F] = (byte)units; table[0x30] = (byte)(units >> 8);
        return table;
    }

    public CfiFlashState SaveState()
    {
        lock (_lock) return new CfiFlashState { Mode = _mode, Status = _status, Contents = (byte[])_contents.Clone() };
    }

    /// <summary>Loads the state and writes the whole contents through, so the variable file matches what the guest sees (as QEMU's post-load does).</summary>
    public void RestoreState(CfiFlashState state)
    {
        StateCheck.That(Enum.IsDefined(state.Mode), "flash.mode", $"{(int)state.Mode} is not a flash mode");
        StateCheck.Length(state.Contents, _contents.Length, "flash.contents");
        lock (_lock)
        {
            state.Contents.CopyTo(_contents, 0);
            _mode = state.Mode;
            _status = state.Status;
            _backing?.Write(0, _contents);
        }
    }
}

/// <summary>What reads of a <see cref="CfiFlash"/> give, and which command waits for its second cycle.</summary>
public enum CfiFlashMode
{
    ReadArray,
    ReadStatus,
    ReadIdentifier,
    CfiQuery,
    ProgramPending,
    ErasePending,
}
