using KvmSharp.Devices.Virtio.Net;
using static KvmSharp.Tests.Devices.Virtio.MockVirtqDriver;
using static KvmSharp.Tests.Devices.Virtio.Net.NetFrames;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>
/// virtio-net against a hostile driver and an oversized host: malformed chains go back unused and counted,
/// frames that fit nowhere are dropped and counted, a malformed queue ends in NEEDS_RESET; never an exception or a hang.
/// </summary>
public class VirtioNetHostileTests
{
    private const ulong Basic = NetFeatures.Mac | NetFeatures.Status;

    /// <summary>Publishes a tx chain and waits until it is used; returns its used length.</summary>
    private static uint TransmitAndWait(NetDeviceRig rig, ushort head)
    {
        ushort position = rig.Tx.UsedIdx;
        rig.Tx.Publish(head);
        rig.NotifyTx();
        NetDeviceRig.WaitUntil(() => rig.Tx.UsedIdx != position, "the tx chain was never used");
        var (id, length) = rig.Tx.UsedElement(position);
        Assert.Equal(head, id);
        return length;
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(11u)]
    public void TxChainShorterThanTheHeaderIsDroppedAndCounted(uint length)
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic);
        Assert.Equal(0u, TransmitAndWait(rig, rig.Tx.AddChain((length, false))));
        Assert.Equal(1, rig.Statistics.TxDropped);
        Assert.Equal(0, rig.Statistics.TxFrames);
        Assert.False(rig.HostHasFrame());
        Assert.Empty(rig.Interrupts.NeedsReset);
    }

    [Fact]
    public void TxChainWithAWritableBufferIsDroppedAndCounted()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic);
        Assert.Equal(0u, TransmitAndWait(rig, rig.Tx.AddChain((12, false), (60, false), (64, true))));
        Assert.Equal(1, rig.Statistics.TxDropped);
        Assert.False(rig.HostHasFrame());
    }

    [Fact]
    public void TxChainLongerThanTheLargestFrameIsDroppedAndTheNextOneStillGoes()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic);
        Assert.Equal(0u, TransmitAndWait(rig, rig.Tx.AddChain((12, false), (64 * 1024 + 18 + 1, false))));
        Assert.Equal(1, rig.Statistics.TxDropped);
        Assert.False(rig.HostHasFrame());

        // The largest frame exactly is taken.
        ushort head = rig.Tx.AddChain((12, false), (64 * 1024 + 18, false));
        TransmitAndWait(rig, head);
        Assert.Equal(12 + 64 * 1024 + 18, rig.HostReceives().Length);
    }

    [Fact]
    public void RxChainWithAReadableBufferGoesBackEmptyAndTheFrameTakesTheNextChain()
    {
        using var rig = new NetDeviceRig();
        ushort bad = rig.Rx.AddChain((12, false), (1514, true));
        ushort tiny = rig.Rx.AddChain((11, true));   // less room than the header
        ushort good = rig.Rx.AddChain((1526, true));
        rig.Rx.Publish(bad);
        rig.Rx.Publish(tiny);
        rig.Rx.Publish(good);
        rig.Activate(Basic);
        var frame = Ethernet(80, [2, 0, 0, 0, 0, 1]);
        rig.HostSends(Header(), frame);

        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 3, "the chains were not all used");
        Assert.Equal((bad, 0u), rig.Rx.UsedElement(0));
        Assert.Equal((tiny, 0u), rig.Rx.UsedElement(1));
        Assert.Equal((good, 92u), rig.Rx.UsedElement(2));
        Assert.Equal(Concat(Header(numBuffers: 1), frame), rig.RxWritten(2));
        Assert.Equal(2, rig.Statistics.RxErrors);
        Assert.Empty(rig.Interrupts.NeedsReset);
    }

    [Fact]
    public void FrameTooBigForTheOneChainIsDroppedAndTheChainTakesTheNextFrame()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic);   // no MRG_RXBUF: one chain per frame
        ushort head = rig.Rx.AddChain((1526, true));
        rig.Rx.Publish(head);
        rig.NotifyRx();
        rig.HostSends(Header(), Ethernet(2000, [2, 0, 0, 0, 0, 1]));
        var small = Ethernet(100, [2, 0, 0, 0, 0, 1], seed: 3);
        rig.HostSends(Header(), small);

        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 1, "the second frame did not arrive");
        Assert.Equal((head, 112u), rig.Rx.UsedElement(0));
        Assert.Equal(Concat(Header(numBuffers: 1), small), rig.RxWritten(0));
        Assert.Equal(1, rig.Statistics.RxDropped);
    }

    [Fact]
    public void MergeableFrameNeedingMoreChainsThanTheDeviceHoldsIsDropped()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic | NetFeatures.MergeableRxBuffers);
        var heads = new ushort[256];
        for (int i = 0; i < heads.Length; i++) rig.Rx.Publish(heads[i] = rig.Rx.AddChain((16, true)));
        rig.NotifyRx();
        rig.HostSends(Header(), Ethernet(5000, [2, 0, 0, 0, 0, 1]));   // 256 x 16 bytes = 4096 < 5012
        var small = Ethernet(40, [2, 0, 0, 0, 0, 1], seed: 9);
        rig.HostSends(Header(), small);

        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 4, "the small frame did not arrive in four chains");
        Assert.Equal(1, rig.Statistics.RxDropped);
        for (ushort i = 0; i < 4; i++) Assert.Equal(heads[i], rig.Rx.UsedElement(i).Id);
        Assert.Equal(4u, rig.Rx.UsedElement(3).Length);   // 52 = 16 + 16 + 16 + 4
        Assert.Equal(Concat(Header(numBuffers: 4), small), Concat(rig.RxWritten(0), rig.RxWritten(1), rig.RxWritten(2), rig.RxWritten(3)));
    }

    [Fact]
    public void DescriptorLoopInTheTxQueueMarksTheDeviceNeedsResetAndItStopsServing()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic);
        rig.Tx.SetDescriptor(0, BufferBase, 16, Flags.Next, 0);   // next points at itself
        rig.Tx.Publish(0);
        rig.NotifyTx();
        NetDeviceRig.WaitUntil(() => !rig.Interrupts.NeedsReset.IsEmpty, "the malformed queue was not reported");
        Assert.Contains("loop", Assert.Single(rig.Interrupts.NeedsReset));

        // Broken: a good frame from the host is no longer taken.
        rig.Rx.Publish(rig.Rx.AddChain((1526, true)));
        rig.NotifyRx();
        rig.HostSends(Header(), Ethernet(60, [2, 0, 0, 0, 0, 1]));
        rig.Device.Reset();   // returns: the loop thread stopped
        Assert.Equal(0, rig.Rx.UsedIdx);
    }

    [Fact]
    public void RxChainPointingPastGuestRamMarksTheDeviceNeedsReset()
    {
        using var rig = new NetDeviceRig();
        rig.Rx.SetDescriptor(rig.Rx.DescriptorTable, 0, rig.Memory.Size - 8, 64, Flags.Write, 0);
        rig.Rx.Publish(0);
        rig.Activate(Basic);
        NetDeviceRig.WaitUntil(() => !rig.Interrupts.NeedsReset.IsEmpty, "the bad buffer was not reported");
        Assert.Contains("outside guest RAM", Assert.Single(rig.Interrupts.NeedsReset));
    }
}
