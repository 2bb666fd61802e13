using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Memory;
using KvmSharp.State;
using KvmSharp.Tests.State;
using static KvmSharp.Tests.Devices.Virtio.Net.NetFrames;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>Pausing virtio-net (no frame taken from the tap, no guest write, held buffers given back) and its state.</summary>
public class VirtioNetStateTests
{
    private const ulong Basic = NetFeatures.Mac | NetFeatures.Status;

    private static void WaitForNextAvail(NetDeviceRig rig, ushort position) =>
        NetDeviceRig.WaitUntil(() => rig.Rx.Queue.NextAvailable == position, $"the device to take rx chain {position}");

    [Fact]
    public void PausedDeviceTakesNoFrameFromTheTapAndGivesItsHeldBufferBack()
    {
        using var rig = new NetDeviceRig();
        ushort first = rig.Rx.AddChain((1526, true));
        rig.Rx.Publish(first);
        rig.Activate(Basic);
        WaitForNextAvail(rig, 1);            // it holds the buffer, waiting for a frame

        rig.Device.Pause();
        Assert.Equal(0, rig.Rx.Queue.NextAvailable);   // given back unused, to be taken again
        int reads = rig.Socket.ReceiveCalls;
        var log = new DirtyPageBitmap(rig.Memory.Regions);
        rig.Memory.StartWriteLog(log);
        var frame = Ethernet(100, [2, 0, 0, 0, 0, 1]);
        rig.HostSends(Header(), frame);
        rig.NotifyRx();
        Thread.Sleep(100);                   // time for a running device to have taken it
        Assert.Equal(reads, rig.Socket.ReceiveCalls);
        Assert.Equal(0, log.Count());
        Assert.Equal(0, rig.Rx.UsedIdx);

        rig.Device.Resume();
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 1, "the frame after resume");
        Assert.Equal((first, 112u), rig.Rx.UsedElement(0));
        Assert.Equal(Concat(Header(numBuffers: 1), frame), rig.RxWritten(0));
        rig.Memory.StopWriteLog();
    }

    [Fact]
    public void AFrameWaitingForMoreMergeableBuffersIsDroppedAtThePause()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic | NetFeatures.MergeableRxBuffers);
        ushort small = rig.Rx.AddChain((64, true));
        rig.Rx.Publish(small);
        rig.NotifyRx();
        WaitForNextAvail(rig, 1);
        rig.HostSends(Header(), Ethernet(200, [2, 0, 0, 0, 0, 1]));   // needs more than the one 64-byte buffer
        NetDeviceRig.WaitUntil(() => rig.Socket.ReceiveCalls > 1, "the device to read the frame");

        rig.Device.Pause();
        Assert.Equal(1, rig.Statistics.RxDropped);     // the frame in flight is lost, as on a NIC unplugged for a moment
        Assert.Equal(0, rig.Rx.Queue.NextAvailable);
        Assert.Equal(0, rig.Rx.UsedIdx);

        rig.Device.Resume();
        var frame = Ethernet(40, [2, 0, 0, 0, 0, 2]);
        rig.HostSends(Header(), frame);
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 1, "the next frame");
        Assert.Equal((small, 52u), rig.Rx.UsedElement(0));
    }

    [Fact]
    public void HeldBuffersThatAreNotTheLatestChainsGoBackEmpty()
    {
        using var rig = new NetDeviceRig();
        rig.Activate(Basic | NetFeatures.MergeableRxBuffers);
        ushort held = rig.Rx.AddChain((64, true));
        rig.Rx.Publish(held);
        rig.NotifyRx();
        WaitForNextAvail(rig, 1);
        rig.HostSends(Header(), Ethernet(200, [2, 0, 0, 0, 0, 1]));
        NetDeviceRig.WaitUntil(() => rig.Socket.ReceiveCalls > 1, "the device to read the frame");
        ushort readOnly = rig.Rx.AddChain((64, false));   // not a receive buffer: used at once with nothing in it
        rig.Rx.Publish(readOnly);
        rig.NotifyRx();
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 1, "the bad chain to be returned");

        rig.Device.Pause();
        Assert.Equal(2, rig.Rx.UsedIdx);                  // the held one cannot be un-popped past the bad one
        Assert.Equal((held, 0u), rig.Rx.UsedElement(1));
        Assert.Equal(2, rig.Rx.Queue.NextAvailable);
        rig.Device.Resume();
    }

    [Fact]
    public void StateNamesTheMacAndRefusesAnotherNic()
    {
        using var rig = new NetDeviceRig();
        var saved = StateFuzz.RoundTrip(rig.Device.SaveState());
        Assert.Equal("52:54:00:12:34:56", saved.Mac);
        rig.Device.RestoreState(saved);
        rig.Device.RestoreState(saved with { Mac = "52:54:00:12:34:56".ToUpperInvariant() });
        var e = Assert.Throws<StateException>(() => rig.Device.RestoreState(saved with { Mac = "52:54:00:12:34:57" }));
        Assert.StartsWith("net.Mac:", e.Message);
        e = Assert.Throws<StateException>(() => rig.Device.RestoreState(saved with { DeviceFeatures = Basic }));
        Assert.StartsWith("net.DeviceFeatures:", e.Message);
        Assert.Throws<StateException>(() => rig.Device.RestoreState(saved with { Mac = null! }));
    }
}
