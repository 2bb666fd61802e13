using System.Buffers.Binary;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Native.Net;
using static KvmSharp.Tests.Devices.Virtio.Net.NetFrames;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>virtio-net (virtio 1.2 §5.1) against a socket-pair host and mock drivers: an honest driver's view.</summary>
public class VirtioNetDeviceTests
{
    private const ulong Basic = NetFeatures.Mac | NetFeatures.Status;

    [Fact]
    public void ConfigurationHoldsTheMacALinkThatIsUpAndOneQueuePair()
    {
        using var rig = new NetDeviceRig();
        var config = new byte[rig.Device.ConfigSize];
        rig.Device.ReadConfig(0, config);
        Assert.Equal(NetDeviceRig.Mac, config[..6]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(6)));   // VIRTIO_NET_S_LINK_UP
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(8)));
        Assert.Equal(new ushort[] { 256, 256 }, rig.Device.QueueSizes);
        Assert.Equal(NetFeatures.Mac | NetFeatures.Status | NetFeatures.MergeableRxBuffers | NetFeatures.Offloads, rig.Device.DeviceFeatures);
    }

    [Fact]
    public void TransmitsAFrameGatheredFromSeveralBuffersWithItsHeader()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic);
        var header = Header(flags: 1, csumStart: 34, csumOffset: 16);
        var frame = Ethernet(100, NetDeviceRig.Mac);
        ushort head = rig.Tx.AddChain((12, false), (40, false), (60, false));
        rig.Memory.Write(rig.Buffer(rig.Tx, head), header);
        rig.Memory.Write(rig.Buffer(rig.Tx, head + 1), frame.AsSpan(0, 40));
        rig.Memory.Write(rig.Buffer(rig.Tx, head + 2), frame.AsSpan(40));
        rig.Tx.Publish(head);
        rig.NotifyTx();

        Assert.Equal(Concat(header, frame), rig.HostReceives());
        NetDeviceRig.WaitUntil(() => rig.Tx.UsedIdx == 1, "the tx chain was not used");
        Assert.Equal((head, 0u), rig.Tx.UsedElement(0));   // nothing written into a tx chain
        Assert.True(rig.Interrupts.QueueSignals(1) >= 1);
        Assert.Equal(1, rig.Statistics.TxFrames);
    }

    [Fact]
    public void ReceivesAFrameIntoOneChainWithNumBuffersOne()
    {
        using var rig = new NetDeviceRig();
        ushort head = rig.Rx.AddChain((1526, true));
        rig.Rx.Publish(head);            // before DRIVER_OK: the device looks at its queues at activation
        rig.Activate(Basic);
        var header = Header(flags: 2);   // DATA_VALID
        header[10] = header[11] = 0xEE;  // the tap leaves num_buffers as it was: the device must set it
        var frame = Ethernet(100, [2, 0, 0, 0, 0, 1]);
        rig.HostSends(header, frame);

        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 1, "no frame reached the rx queue");
        Assert.Equal((head, 112u), rig.Rx.UsedElement(0));
        Assert.Equal(Concat(Header(flags: 2, numBuffers: 1), frame), rig.RxWritten(0));
        Assert.True(rig.Interrupts.QueueSignals(0) >= 1);
        Assert.Equal(1, rig.Statistics.RxFrames);
    }

    [Fact]
    public void MergeableBuffersSpreadAFrameOverSeveralChainsAndCountThem()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic | NetFeatures.MergeableRxBuffers);
        var heads = new ushort[4];
        for (int i = 0; i < heads.Length; i++) rig.Rx.Publish(heads[i] = rig.Rx.AddChain((64, true)));
        rig.NotifyRx();
        var frame = Ethernet(150, [2, 0, 0, 0, 0, 1]);
        rig.HostSends(Header(), frame);

        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 3, "the frame did not fill three chains");
        Assert.Equal((heads[0], 64u), rig.Rx.UsedElement(0));
        Assert.Equal((heads[1], 64u), rig.Rx.UsedElement(1));
        Assert.Equal((heads[2], 34u), rig.Rx.UsedElement(2));   // 12 + 150 = 64 + 64 + 34
        Assert.Equal(Concat(Header(numBuffers: 3), frame), Concat(rig.RxWritten(0), rig.RxWritten(1), rig.RxWritten(2)));

        // The fourth chain is still held and takes the next frame.
        var small = Ethernet(40, [2, 0, 0, 0, 0, 1], seed: 7);
        rig.HostSends(Header(), small);
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 4, "the next frame did not arrive");
        Assert.Equal(Concat(Header(numBuffers: 1), small), rig.RxWritten(3));
    }

    [Fact]
    public void WithoutRxBuffersTheDeviceStopsPollingTheHostAndResumesOnNotify()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic | NetFeatures.MergeableRxBuffers);
        var frame = Ethernet(60, [2, 0, 0, 0, 0, 1]);
        rig.HostSends(Header(), frame);
        rig.RoundTrips(2);   // the loop has seen the readable host side by now
        long wakeups = rig.Statistics.HostWakeups;
        rig.RoundTrips(3);   // each is a poll round in which a polled, readable host side would wake the device
        Assert.Equal(wakeups, rig.Statistics.HostWakeups);
        Assert.Equal(0, rig.Socket.ReceiveCalls);   // the frame stays with the host while there is nowhere to put it
        Assert.Equal(0, rig.Rx.UsedIdx);

        ushort head = rig.Rx.AddChain((2048, true));
        rig.Rx.Publish(head);
        rig.NotifyRx();
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 1, "the frame was not delivered after the rx notification");
        Assert.Equal(Concat(Header(numBuffers: 1), frame), rig.RxWritten(0));
    }

    [Fact]
    public void NegotiatedReceiveOffloadsGoToTheHostAndResetTakesThemBack()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic | NetFeatures.GuestCsum | NetFeatures.GuestTso4 | NetFeatures.HostTso6 | NetFeatures.Csum);
        Assert.Equal(TunConstants.TUN_F_CSUM | TunConstants.TUN_F_TSO4, rig.Socket.Offloads);
        rig.Device.Reset();
        Assert.Equal(0u, rig.Socket.Offloads);
        Assert.Equal(0u, NetFeatures.ToTunOffloads(NetFeatures.GuestTso4 | NetFeatures.GuestTso6));   // TSO needs GUEST_CSUM
    }
}
