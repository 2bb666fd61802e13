using KvmSharp.Devices.Virtio.Queue;
using KvmSharp.Memory;
using static KvmSharp.Tests.Devices.Virtio.MockVirtqDriver;

namespace KvmSharp.Tests.Devices.Virtio;

/// <summary>A split virtqueue driven by an honest driver (virtio 1.2 §2.7).</summary>
public class VirtQueueTests
{
    [Fact]
    public void EmptyOrDisabledQueueHasNothingAvailable()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Publish(driver.AddChain((16, false)));
        Assert.False(driver.Queue.TryPopAvailable(out _));   // not enabled yet
        driver.Enable();
        Assert.True(driver.Queue.TryPopAvailable(out _));
        Assert.False(driver.Queue.TryPopAvailable(out _));
    }

    [Fact]
    public void WalksReadableThenWritableBuffersAndPublishesTheUsedElement()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        ushort head = driver.AddChain((16, false), (512, false), (1, true));
        driver.Publish(head);

        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        Assert.Equal(head, chain.Head);
        Assert.True(chain.TryNext(out var header));
        Assert.Equal(new Descriptor(new GuestAddress(BufferBase), 16, false), header);
        Assert.True(chain.TryNext(out var data));
        Assert.Equal(new Descriptor(new GuestAddress(BufferBase + 16), 512, false), data);
        Assert.True(chain.TryNext(out var status));
        Assert.Equal(new Descriptor(new GuestAddress(BufferBase + 528), 1, true), status);
        Assert.False(chain.TryNext(out _));
        Assert.Equal(529ul, chain.TotalLength);

        driver.Queue.AddUsed(chain.Head, 1);
        Assert.Equal(1, driver.UsedIdx);
        Assert.Equal((head, 1u), driver.UsedElement(0));
    }

    [Fact]
    public void WalksAnIndirectTable()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.Publish(driver.AddIndirectChain((16, false), (4096, true), (1, true)));

        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        Span<Descriptor> buffers = stackalloc Descriptor[8];
        int count = chain.CopyTo(buffers);
        Assert.Equal(3, count);
        Assert.Equal([16u, 4096u, 1u], buffers[..count].ToArray().Select(d => d.Length));
        Assert.Equal([false, true, true], buffers[..count].ToArray().Select(d => d.IsWritable));
    }

    [Fact]
    public void ReadableBuffersMayPrecedeAnIndirectTable()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable();
        driver.SetDescriptor(IndirectBase, 0, BufferBase, 8, Flags.Write, 0);
        driver.SetDescriptor(0, BufferBase, 16, Flags.Next, 1);
        driver.SetDescriptor(1, IndirectBase, 16, Flags.Indirect);
        driver.Publish(0);

        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        Span<Descriptor> buffers = stackalloc Descriptor[4];
        Assert.Equal(2, chain.CopyTo(buffers));
        Assert.False(buffers[0].IsWritable);
        Assert.True(buffers[1].IsWritable);
    }

    [Fact]
    public void ChainLongerThanTheCallersBufferIsRejected()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.Publish(driver.AddChain((1, false), (1, false), (1, false)));
        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        Span<Descriptor> buffers = stackalloc Descriptor[2];
        try
        {
            chain.CopyTo(buffers);
            Assert.Fail("a three-buffer chain fit in two slots");
        }
        catch (VirtQueueException) { }
    }

    [Fact]
    public void NoInterruptFlagSuppressesNotificationsWithoutEventIdx()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.Publish(driver.AddChain((8, true)));
        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        driver.Queue.AddUsed(chain.Head, 8);
        Assert.True(driver.Queue.NeedsInterrupt());
        driver.SetAvailFlags(1);   // VRING_AVAIL_F_NO_INTERRUPT
        Assert.False(driver.Queue.NeedsInterrupt());
    }

    [Fact]
    public void EventIdxNotifiesOnlyWhenUsedIdxPassesUsedEvent()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable(eventIdx: true);
        driver.SetAvailFlags(1);   // ignored once EVENT_IDX is negotiated (§2.7.7)
        for (int i = 0; i < 4; i++) driver.Publish(driver.AddChain((8, true)));

        Complete(driver);                          // used idx 1
        Assert.True(driver.Queue.NeedsInterrupt()); // first decision after enable notifies
        driver.SetUsedEvent(2);                    // "interrupt me once entry 2 is used" (idx becomes 3)
        Complete(driver);                          // used idx 2
        Assert.False(driver.Queue.NeedsInterrupt());
        Complete(driver);                          // used idx 3
        Assert.True(driver.Queue.NeedsInterrupt());
        Complete(driver);                          // used idx 4: used_event 2 already passed
        Assert.False(driver.Queue.NeedsInterrupt());
    }

    [Fact]
    public void EventIdxCountsABatchThatCrossesUsedEvent()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable(eventIdx: true);
        for (int i = 0; i < 4; i++) driver.Publish(driver.AddChain((8, true)));
        Complete(driver);
        Assert.True(driver.Queue.NeedsInterrupt());
        driver.SetUsedEvent(2);
        Complete(driver);
        Complete(driver);
        Complete(driver);   // idx 1 → 4 in one batch passes 2
        Assert.True(driver.Queue.NeedsInterrupt());
    }

    [Fact]
    public void EventIdxSetsAvailEventToTheNextIndexTheDeviceWillRead()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable(eventIdx: true);
        Assert.False(driver.Queue.TryPopAvailable(out _));
        Assert.Equal(0, driver.AvailEvent);
        driver.Publish(driver.AddChain((8, false)));
        driver.Publish(driver.AddChain((8, false)));
        Assert.True(driver.Queue.TryPopAvailable(out _));
        Assert.Equal(1, driver.AvailEvent);
        Assert.True(driver.Queue.TryPopAvailable(out _));
        Assert.False(driver.Queue.TryPopAvailable(out _));
        Assert.Equal(2, driver.AvailEvent);
    }

    [Fact]
    public void SixteenBitIndexesWrapAround()
    {
        using var driver = new MockVirtqDriver(4);
        driver.Enable(eventIdx: true);
        const int rounds = 65536 + 6;
        for (int i = 0; i < rounds; i++)
        {
            // Keep the driver up to three entries ahead so that avail idx crosses 0xFFFF → 0 while the device lags.
            while ((ushort)(driver.AvailIdx - driver.Queue.NextAvailable) < 3)
                driver.Publish(driver.AddChain(((uint)(driver.AvailIdx % 7 + 1), true)));
            Assert.True(driver.Queue.TryPopAvailable(out var chain));
            Assert.True(chain.TryNext(out var buffer));
            driver.Queue.AddUsed(chain.Head, buffer.Length);
            driver.SetUsedEvent((ushort)(driver.Queue.NextUsed - 1));   // ask for every completion
            Assert.True(driver.Queue.NeedsInterrupt());
            Assert.Equal((chain.Head, buffer.Length), driver.UsedElement((ushort)(driver.UsedIdx - 1)));
        }
        Assert.Equal(unchecked((ushort)rounds), driver.UsedIdx);
        Assert.Equal(unchecked((ushort)rounds), driver.Queue.NextAvailable);
        driver.SetUsedEvent(0xFFFF);   // event far behind: crossing it again takes another 2^16 entries
        driver.Queue.NeedsInterrupt();
        Complete(driver);
        Assert.False(driver.Queue.NeedsInterrupt());
    }

    [Fact]
    public void ResetForgetsIndexesAndDisablesTheQueue()
    {
        using var driver = new MockVirtqDriver(8);
        driver.Enable();
        driver.Publish(driver.AddChain((8, true)));
        Complete(driver);
        driver.Queue.Reset();
        Assert.False(driver.Queue.IsReady);
        Assert.Equal(0, driver.Queue.NextAvailable);
        Assert.Equal(0, driver.Queue.NextUsed);
        Assert.False(driver.Queue.TryPopAvailable(out _));
    }

    private static void Complete(MockVirtqDriver driver)
    {
        Assert.True(driver.Queue.TryPopAvailable(out var chain));
        driver.Queue.AddUsed(chain.Head, 0);
    }
}
