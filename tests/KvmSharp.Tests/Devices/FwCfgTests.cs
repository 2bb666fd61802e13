using System.Buffers.Binary;
using System.Text;
using KvmSharp.Devices.Firmware;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Tests.Devices;

/// <summary>fw_cfg as QEMU's docs/specs/fw_cfg.rst describes it, driven the way SeaBIOS and OVMF drive it: ports and DMA.</summary>
public sealed class FwCfgTests : IDisposable
{
    private const ulong Descriptor = 0x1000, Buffer = 0x2000;
    private readonly GuestMemory _memory = GuestMemory.Create(2 << 20);
    private readonly FwCfg _device;

    public FwCfgTests() => _device = new FwCfg(_memory);

    public void Dispose() => _memory.Dispose();

    [Fact]
    public void TheTraditionalInterfaceReadsSignatureFeaturesAndTheFileDirectory()
    {
        _device.AddFile("etc/zeta", [1, 2, 3]);
        ushort alpha = _device.AddFile("etc/alpha", Encoding.ASCII.GetBytes("hello"));
        Assert.Equal("QEMU"u8.ToArray(), ReadItem(FwCfg.KeySignature, 4));
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(ReadItem(FwCfg.KeyId, 4)));
        var dma = new byte[8];
        _device.Read(4, dma);
        Assert.Equal("QEMU CFG"u8.ToArray(), dma);

        byte[] directory = ReadItem(FwCfg.KeyFileDir, 4 + 2 * 64);
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(directory));
        // Sorted by name, as QEMU lists them; each entry: size, key, reserved, NUL-padded name.
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32BigEndian(directory.AsSpan(4)));
        Assert.Equal(alpha, BinaryPrimitives.ReadUInt16BigEndian(directory.AsSpan(8)));
        Assert.Equal("etc/alpha", Encoding.ASCII.GetString(directory, 12, 56).TrimEnd('\0'));
        Assert.Equal("etc/zeta", Encoding.ASCII.GetString(directory, 4 + 64 + 8, 56).TrimEnd('\0'));
        // Past an item's end the data port reads zeros.
        Assert.Equal("hello\0\0"u8.ToArray(), ReadItem(alpha, 7));
    }

    [Fact]
    public void DmaSelectsReadsSkipsAndReportsDoneInTheControlWord()
    {
        ushort key = _device.AddFile("etc/blob", Encoding.ASCII.GetBytes("0123456789"));
        Assert.Equal(0u, Dma((uint)key << 16 | 8 | 4, 3, 0));  // select + skip 3
        _memory.GetSpan(new GuestAddress(Buffer), 16).Fill(0xEE);
        Assert.Equal(0u, Dma(2, 9, Buffer, twoHalves: true));   // read 9: seven bytes and two zeros
        Assert.Equal("3456789\0\0"u8.ToArray(), _memory.GetReadOnlySpan(new GuestAddress(Buffer), 9).ToArray());
        Assert.Equal(0xEE, _memory.GetReadOnlySpan(new GuestAddress(Buffer + 9), 1)[0]);
    }

    [Fact]
    public void HostileDmaGetsTheErrorBitAndChangesNothing()
    {
        ushort readOnly = _device.AddFile("etc/fixed", [1, 2, 3, 4]);
        ushort writable = _device.AddFile("etc/writable", [0, 0, 0, 0], guestWritable: true);
        // Targets outside RAM, a length past 2 GiB, a write to a read-only item and one running past the item's end.
        Assert.Equal(1u, Dma((uint)readOnly << 16 | 8 | 2, 4, 1UL << 40));
        Assert.Equal(1u, Dma((uint)readOnly << 16 | 8 | 2, 0xFFFF_FFF0, Buffer));
        _memory.Write(new GuestAddress(Buffer), new byte[] { 9, 9, 9, 9, 9 });
        Assert.Equal(1u, Dma((uint)readOnly << 16 | 8 | 16, 4, Buffer));
        Assert.Equal(1u, Dma((uint)writable << 16 | 8 | 16, 5, Buffer));
        Assert.Equal(new byte[] { 1, 2, 3, 4 }, ReadItem(readOnly, 4));
        Assert.Equal(new byte[4], ReadItem(writable, 4));
        // A write that fits is taken in place.
        Assert.Equal(0u, Dma((uint)writable << 16 | 8 | 16, 4, Buffer));
        Assert.Equal(new byte[] { 9, 9, 9, 9 }, ReadItem(writable, 4));
        // A descriptor outside RAM: nothing to report into, and no harm.
        var address = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(address, 1UL << 40);
        _device.Write(4, address);
    }

    [Fact]
    public void StateCarriesThePositionAndWrittenItemsIntoAFreshDevice()
    {
        ushort key = _device.AddFile("etc/blob", Encoding.ASCII.GetBytes("abcdef"));
        ushort writable = _device.AddFile("etc/w", [0, 0], guestWritable: true);
        _memory.Write(new GuestAddress(Buffer), new byte[] { 7, 8 });
        Assert.Equal(0u, Dma((uint)writable << 16 | 8 | 16, 2, Buffer));
        Select(key);
        var two = new byte[2];
        foreach (ref byte b in two.AsSpan()) b = DataByte();
        var state = _device.SaveState();

        var restored = new FwCfg(_memory);
        restored.AddFile("etc/blob", Encoding.ASCII.GetBytes("abcdef"));
        restored.AddFile("etc/w", [0, 0], guestWritable: true);
        restored.RestoreState(state);
        Assert.Equal(state, restored.SaveState() with { WritableItems = state.WritableItems });
        Assert.Equal(new byte[] { 7, 8 }, restored.SaveState().WritableItems.Single().Data);
        var next = new byte[1];
        restored.Read(1, next);
        Assert.Equal((byte)'c', next[0]);

        var other = new FwCfg(_memory);
        Assert.Throws<StateException>(() => other.RestoreState(state));
    }

    [Theory]
    [InlineData("")]
    [InlineData("a-name-that-is-much-longer-than-the-fifty-five-bytes-it-may-have")]
    [InlineData("tab\there")]
    public void FileNamesQemuCouldNotListAreRefused(string name) =>
        Assert.Throws<ArgumentException>(() => _device.AddFile(name, []));

    private uint Dma(uint control, uint length, ulong address, bool twoHalves = false)
    {
        Span<byte> access = stackalloc byte[16];
        BinaryPrimitives.WriteUInt32BigEndian(access, control);
        BinaryPrimitives.WriteUInt32BigEndian(access[4..], length);
        BinaryPrimitives.WriteUInt64BigEndian(access[8..], address);
        _memory.Write(new GuestAddress(Descriptor), access);
        var register = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(register, Descriptor);
        if (twoHalves)
        {
            _device.Write(4, register.AsSpan(0, 4));
            _device.Write(8, register.AsSpan(4, 4));
        }
        else _device.Write(4, register);
        return BinaryPrimitives.ReadUInt32BigEndian(_memory.GetReadOnlySpan(new GuestAddress(Descriptor), 4));
    }

    private void Select(ushort key)
    {
        var selector = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(selector, key);
        _device.Write(0, selector);
    }

    private byte DataByte()
    {
        var b = new byte[1];
        _device.Read(1, b);
        return b[0];
    }

    private byte[] ReadItem(ushort key, int length)
    {
        Select(key);
        var data = new byte[length];
        for (int i = 0; i < length; i++) data[i] = DataByte();
        return data;
    }
}
