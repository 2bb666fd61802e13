using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;
using static KvmSharp.Tests.Devices.Virtio.MockVirtqDriver;

namespace KvmSharp.Tests.Devices.Virtio;

/// <summary>
/// A hostile driver: every malformed queue state must end in <see cref="VirtQueueException"/> (which the device
/// turns into NEEDS_RESET), never another exception and never a hang.
/// </summary>
public class VirtQueueHostileTests
{
    private const ulong Ram = 4 << 20;

    [Fact]
    public void DescriptorLoopEndsTheWalk()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.SetDescriptor(0, BufferBase, 8, Flags.Next, 1);
        driver.SetDescriptor(1, BufferBase, 8, Flags.Next, 0);
        driver.Publish(0);
        var error = WalkExpectingError(driver);
        Assert.Contains("loop", error.Message);
    }

    [Fact]
    public void SelfLoopEndsTheWalk()
    {
        using var driver = new MockVirtqDriver(2);
        driver.Enable();
        driver.SetDescriptor(1, BufferBase, 8, Flags.Next, 1);
        driver.Publish(1);
        WalkExpectingError(driver);
    }

    [Fact]
    public void ChainOfExactlyQueueSizeIsAccepted()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.Publish(driver.AddChain((1, false), (1, false), (1, false), (1, true)));
        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        Span<Descriptor> buffers = stackalloc Descriptor[4];
        Assert.Equal(4, chain.CopyTo(buffers));
    }

    [Fact]
    public void NextPastTheTableIsRejected()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.SetDescriptor(0, BufferBase, 8, Flags.Next, 8);
        driver.Publish(0);
        Assert.Contains("next 8", WalkExpectingError(driver).Message);
    }

    [Fact]
    public void HeadPastTheTableIsRejected()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.Publish(8);
        Assert.Throws<VirtQueueException>(() => driver.Queue.TryPopAvailable(out _));
    }

    [Theory]
    [InlineData(Ram, 1u)]                      // first byte past RAM
    [InlineData(Ram - 4, 8u)]                  // straddles the end
    [InlineData(ulong.MaxValue - 3, 8u)]       // address + length overflows 64 bits
    [InlineData(0x2000, uint.MaxValue)]        // length alone runs past RAM
    public void BufferOutsideRamIsRejected(ulong address, uint length)
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.SetDescriptor(0, address, length, 0);
        driver.Publish(0);
        Assert.Contains("outside guest RAM", WalkExpectingError(driver).Message);
    }

    [Fact]
    public void TotalLengthPastFourGibibytesIsRejected()
    {
        // 1025 buffers that each cover all 4 MiB of RAM describe 4 GiB + 4 MiB: each is valid, the sum is not.
        using var driver = new MockVirtqDriver(2048);
        driver.Enable();
        for (int i = 0; i < 1025; i++)
            driver.SetDescriptor(i, 0, (uint)Ram, Flags.Next, (ushort)(i + 1));
        driver.SetDescriptor(1025, 0, 1, 0);
        driver.Publish(0);
        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        int walked = 0;
        var error = Assert.Throws<VirtQueueException>(() => { while (chain.TryNext(out _)) walked++; });
        Assert.Contains("4 GiB", error.Message);
        Assert.Equal(1023, walked);   // 1024 × 4 MiB = 2^32 is the first sum past 2^32 - 1
    }

    [Theory]
    [InlineData(9)]
    [InlineData(0x8000)]
    [InlineData(0xFFFF)]
    public void AvailIndexJumpingMoreThanTheQueueSizeIsRejected(int idx)
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.SetAvailIdx((ushort)idx);
        Assert.Contains("ahead", Assert.Throws<VirtQueueException>(() => driver.Queue.TryPopAvailable(out _)).Message);
    }

    [Fact]
    public void AvailIndexExactlyAQueueAheadIsAccepted()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        for (int i = 0; i < 8; i++) driver.Publish(driver.AddChain((8, false)));
        for (int i = 0; i < 8; i++) Assert.True(driver.Queue.TryPopAvailable(out _));
        Assert.False(driver.Queue.TryPopAvailable(out _));
    }

    [Fact]
    public void IndirectInsideIndirectIsRejected()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(IndirectBase, 0, IndirectBase + 0x100, 16, Flags.Indirect, 0);
        driver.SetDescriptor(0, IndirectBase, 16, Flags.Indirect);
        driver.Publish(0);
        Assert.Contains("inside an indirect", WalkExpectingError(driver).Message);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(8u)]
    [InlineData(17u)]
    public void IndirectTableLengthMustBeANonZeroMultipleOf16(uint length)
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(IndirectBase, 0, BufferBase, 8, 0, 0);
        driver.SetDescriptor(0, IndirectBase, length, Flags.Indirect);
        driver.Publish(0);
        Assert.Contains("multiple of 16", WalkExpectingError(driver).Message);
    }

    [Fact]
    public void IndirectTableLargerThanSixteenBitNextCanReachIsRejected()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(0, 0, 16 * 65537, Flags.Indirect);   // inside RAM, but entry 65536 is unreachable
        driver.Publish(0);
        Assert.Contains("more than 65536", WalkExpectingError(driver).Message);
    }

    [Fact]
    public void IndirectWithNextIsRejected()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(IndirectBase, 0, BufferBase, 8, 0, 0);
        driver.SetDescriptor(0, IndirectBase, 16, (ushort)(Flags.Indirect | Flags.Next), 1);
        driver.SetDescriptor(1, BufferBase, 8, 0);
        driver.Publish(0);
        Assert.Contains("INDIRECT and NEXT", WalkExpectingError(driver).Message);
    }

    [Fact]
    public void LoopInsideAnIndirectTableEndsTheWalk()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(IndirectBase, 0, BufferBase, 8, Flags.Next, 1);
        driver.SetDescriptor(IndirectBase, 1, BufferBase, 8, Flags.Next, 0);
        driver.SetDescriptor(0, IndirectBase, 32, Flags.Indirect);
        driver.Publish(0);
        Assert.Contains("loop", WalkExpectingError(driver).Message);
    }

    [Fact]
    public void NextPastAnIndirectTableIsRejected()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(IndirectBase, 0, BufferBase, 8, Flags.Next, 2);   // the table has 2 entries
        driver.SetDescriptor(0, IndirectBase, 32, Flags.Indirect);
        driver.Publish(0);
        Assert.Contains("next 2", WalkExpectingError(driver).Message);
    }

    [Theory]
    [InlineData(Ram - 16)]                    // table straddles the end of RAM
    [InlineData(ulong.MaxValue - 15)]         // table address + length overflows
    public void IndirectTableOutsideRamIsRejected(ulong table)
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(0, table, 32, Flags.Indirect);
        driver.Publish(0);
        Assert.Contains("outside guest RAM", WalkExpectingError(driver).Message);
    }

    [Fact]
    public void ReadableAfterWritableIsRejected()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.Publish(driver.AddChain((8, true), (8, false)));
        Assert.Contains("readable descriptor after", WalkExpectingError(driver).Message);
    }

    [Fact]
    public void ReadableInsideAnIndirectTableAfterWritableIsRejected()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(IndirectBase, 0, BufferBase, 8, 0, 0);
        driver.SetDescriptor(0, BufferBase, 8, (ushort)(Flags.Write | Flags.Next), 1);
        driver.SetDescriptor(1, IndirectBase, 16, Flags.Indirect);
        driver.Publish(0);
        Assert.Contains("readable descriptor after", WalkExpectingError(driver).Message);
    }

    [Theory]
    [InlineData(DescAddress + 8, AvailAddress, UsedAddress, "descriptor table")]
    [InlineData(DescAddress, AvailAddress + 1, UsedAddress, "driver ring")]
    [InlineData(DescAddress, AvailAddress, UsedAddress + 2, "device ring")]
    public void MisalignedRingsAreRejectedAtEnable(ulong desc, ulong avail, ulong used, string which)
    {
        using var driver = new MockVirtqDriver(8);
        var error = Assert.Throws<VirtQueueException>(() =>
            driver.Queue.Enable(8, new GuestAddress(desc), new GuestAddress(avail), new GuestAddress(used), false));
        Assert.Contains(which, error.Message);
        Assert.Contains("aligned", error.Message);
        Assert.False(driver.Queue.IsReady);
    }

    [Theory]
    [InlineData(Ram - 16 * 8 + 16, AvailAddress, UsedAddress)]   // table's last entry past RAM
    [InlineData(DescAddress, Ram - 20, UsedAddress)]             // used_event past RAM
    [InlineData(DescAddress, AvailAddress, Ram - 68)]            // avail_event past RAM (6 + 8×8 = 70 bytes)
    [InlineData(DescAddress, AvailAddress, ulong.MaxValue - 3)]  // address + length overflows
    public void RingsOutsideRamAreRejectedAtEnable(ulong desc, ulong avail, ulong used)
    {
        using var driver = new MockVirtqDriver(8);
        Assert.Throws<VirtQueueException>(() =>
            driver.Queue.Enable(8, new GuestAddress(desc), new GuestAddress(avail), new GuestAddress(used), true));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(24)]
    public void QueueSizeMustBeAPowerOfTwo(int size)
    {
        using var driver = new MockVirtqDriver(8);
        Assert.Throws<VirtQueueException>(() => driver.Queue.Enable((ushort)size,
            new GuestAddress(DescAddress), new GuestAddress(AvailAddress), new GuestAddress(UsedAddress), false));
    }

    [Fact]
    public void QueueSizeMayNotExceedTheDevicesMaximum()
    {
        using var memory = GuestMemory.Create(Ram);
        var queue = new VirtQueue(memory, maxSize: 256);
        Assert.Throws<VirtQueueException>(() => queue.Enable(512,
            new GuestAddress(DescAddress), new GuestAddress(AvailAddress), new GuestAddress(UsedAddress), false));
    }

    /// <summary>Pops the one published chain and walks it to the error it must raise.</summary>
    private static VirtQueueException WalkExpectingError(MockVirtqDriver driver)
    {
        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        return Assert.Throws<VirtQueueException>(() => { while (chain.TryNext(out _)) { } });
    }
}
