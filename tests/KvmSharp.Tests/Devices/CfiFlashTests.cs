using KvmSharp.Devices.Firmware;
using KvmSharp.State;

namespace KvmSharp.Tests.Devices;

/// <summary>The CFI flash that holds OVMF's variables: the Intel/Sharp command set as OVMF's driver uses it.</summary>
public class CfiFlashTests
{
    private const int Block = 4096;

    private sealed class RecordingBacking : IFlashBacking
    {
        public List<(int Offset, byte[] Data)> Writes { get; } = [];
        public void Write(int offset, ReadOnlySpan<byte> data) => Writes.Add((offset, data.ToArray()));
    }

    private static byte Read(CfiFlash flash, ulong offset)
    {
        Span<byte> b = stackalloc byte[1];
        flash.Read(offset, b);
        return b[0];
    }

    private static void Write(CfiFlash flash, ulong offset, byte value) => flash.Write(offset, [value]);

    private static byte[] Contents(int blocks = 4)
    {
        var bytes = new byte[blocks * Block];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (byte)(i * 7 + 3);
        return bytes;
    }

    [Fact]
    public void OvmfsProbeSeesAFlashNotRamOrRom()
    {
        // OvmfPkg's QemuFlashDetected: write CLEAR_STATUS over a byte, which must still read as the array; then
        // READ_STATUS, which must read 0x00 (cleared). RAM would read back 0x50 or 0x70, ROM the original.
        var flash = new CfiFlash(Contents(), Block, backing: null);
        byte original = Read(flash, 0x100);
        Write(flash, 0x100, 0x50);
        Assert.Equal(original, Read(flash, 0x100));
        Write(flash, 0x100, 0x70);
        Assert.Equal(0x00, Read(flash, 0x100));
        Write(flash, 0x100, 0xFF);
        Assert.Equal(original, Read(flash, 0x100));
    }

    [Fact]
    public void AProgramStoresTheByteWritesItThroughAndLeavesTheStatusReadable()
    {
        var backing = new RecordingBacking();
        var flash = new CfiFlash(Contents(), Block, backing);
        Write(flash, 0x1234, 0x10);
        Assert.Empty(backing.Writes);
        Write(flash, 0x1234, 0xA5);
        Assert.Equal([(0x1234, new byte[] { 0xA5 })], backing.Writes.Select(w => (w.Offset, w.Data)));
        Assert.Equal(0x80, Read(flash, 0x1234));      // status: ready, until read array
        Write(flash, 0, 0xFF);
        Assert.Equal(0xA5, Read(flash, 0x1234));
        Assert.Equal(0xA5, flash.Snapshot()[0x1234]);
        // 0x40 is the other program command; a wider data cycle programs all its bytes.
        Write(flash, 0x2000, 0x40);
        flash.Write(0x2000, [1, 2, 3, 4]);
        Write(flash, 0, 0x00);
        Assert.Equal([1, 2, 3, 4], flash.Snapshot()[0x2000..0x2004]);
    }

    [Fact]
    public void AConfirmedEraseClearsOnlyItsBlockAndAnUnconfirmedOneIsASequenceError()
    {
        var backing = new RecordingBacking();
        var contents = Contents();
        var flash = new CfiFlash(contents, Block, backing);
        Write(flash, Block + 17, 0x20);
        Write(flash, Block + 99, 0xD0);
        var after = flash.Snapshot();
        Assert.All(after[Block..(2 * Block)], b => Assert.Equal(0xFF, b));
        Assert.Equal(Contents()[..Block], after[..Block]);
        Assert.Equal(Contents()[(2 * Block)..], after[(2 * Block)..]);
        Assert.Equal(Block, backing.Writes.Single().Offset);
        Assert.Equal(Block, backing.Writes.Single().Data.Length);

        Write(flash, 0, 0x20);
        Write(flash, 0, 0x55);                        // not 0xD0: nothing erased
        Assert.Equal(Contents()[..Block], flash.Snapshot()[..Block]);
        Write(flash, 0, 0x70);
        Assert.Equal(0x80 | 0x30, Read(flash, 0));   // the error bits are set
        Write(flash, 0, 0x50);
        Write(flash, 0, 0x70);
        Assert.Equal(0x00, Read(flash, 0));
    }

    [Fact]
    public void IdentifierAndCfiQueryReadTheirTablesAndUnknownCommandsReturnToTheArray()
    {
        var flash = new CfiFlash(Contents(), Block, backing: null);
        Write(flash, 0, 0x90);
        Assert.Equal(CfiFlash.ManufacturerIntel, Read(flash, 0));
        Assert.Equal(CfiFlash.DeviceCode, Read(flash, 1));
        Write(flash, 0, 0x98);
        Assert.Equal("QRY"u8.ToArray(), new[] { Read(flash, 0x10), Read(flash, 0x11), Read(flash, 0x12) });
        Assert.Equal(1, Read(flash, 0x2C));                                     // one erase-block region
        Assert.Equal(3, Read(flash, 0x2D) | Read(flash, 0x2E) << 8);            // of 4 blocks (n - 1)
        Assert.Equal(Block / 256, Read(flash, 0x2F) | Read(flash, 0x30) << 8);  // of 4 KiB
        Assert.Equal(14, Read(flash, 0x27));                                    // 16 KiB = 2^14
        Write(flash, 0, 0x42);
        Assert.Equal(Contents()[5], Read(flash, 5));
    }

    [Fact]
    public void AccessesPastTheChipAreIgnoredOrReadAsErased()
    {
        var flash = new CfiFlash(Contents(1), Block, backing: null);
        Write(flash, Block, 0x10);
        flash.Write(Block - 2, [0x10, 0x10, 0x10, 0x10]);   // runs past the end: ignored whole
        Assert.Equal(Contents(1)[Block - 1], Read(flash, Block - 1));
        Assert.Equal(0xFF, Read(flash, Block + 5));
    }

    [Fact]
    public void TheStateRoundTripsAndABadOneIsRefusedBeforeAnythingChanges()
    {
        var backing = new RecordingBacking();
        var flash = new CfiFlash(Contents(), Block, backing);
        Write(flash, 8, 0x10);
        var pending = flash.SaveState();
        Assert.Equal(CfiFlashMode.ProgramPending, pending.Mode);

        var other = new CfiFlash(new byte[4 * Block], Block, backing);
        other.RestoreState(pending);
        Assert.Equal(Contents(), backing.Writes[^1].Data);   // the whole restored store written through
        Write(other, 8, 0x77);                               // the restored chip completes the program
        Write(other, 0, 0xFF);
        Assert.Equal(0x77, Read(other, 8));

        Assert.Throws<StateException>(() => other.RestoreState(pending with { Contents = new byte[Block] }));
        Assert.Throws<StateException>(() => other.RestoreState(pending with { Mode = (CfiFlashMode)42 }));
        Assert.Equal(0x77, Read(other, 8));
    }
}
