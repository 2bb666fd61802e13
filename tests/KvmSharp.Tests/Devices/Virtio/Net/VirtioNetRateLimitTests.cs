using System.Diagnostics;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.RateLimiting;
using static KvmSharp.Tests.Devices.Virtio.Net.NetFrames;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>virtio-net's two limiters (Firecracker's rx_ and tx_rate_limiter): a frame beyond the budget waits, then goes.</summary>
public class VirtioNetRateLimitTests
{
    private const ulong Basic = NetFeatures.Mac | NetFeatures.Status;
    private static readonly RateLimiterConfig OneFramePer400Ms = new(Ops: new TokenBucketConfig(Size: 1, RefillTime: 400));

    private static void QueueTx(NetDeviceRig rig, byte[] frame)
    {
        ushort head = rig.Tx.AddChain((12, false), ((uint)frame.Length, false));
        rig.Memory.Write(rig.Buffer(rig.Tx, head), Header());
        rig.Memory.Write(rig.Buffer(rig.Tx, head + 1), frame);
        rig.Tx.Publish(head);
    }

    [Fact]
    public void ATransmitBeyondTheBudgetStaysInTheRingThenIsSent()
    {
        using var rig = new NetDeviceRig();
        rig.Device.LimitRate(rx: null, tx: OneFramePer400Ms);
        rig.Activate(Basic);
        var clock = Stopwatch.StartNew();
        QueueTx(rig, Ethernet(60, NetDeviceRig.Mac));
        QueueTx(rig, Ethernet(61, NetDeviceRig.Mac));
        rig.NotifyTx();
        Assert.Equal(60 + 12, rig.HostReceives().Length);
        Thread.Sleep(100);
        Assert.False(rig.HostHasFrame());
        Assert.Equal((ushort)1, rig.Tx.UsedIdx);
        Assert.Equal(61 + 12, rig.HostReceives().Length);
        Assert.True(clock.ElapsedMilliseconds >= 400, $"the second frame went after {clock.ElapsedMilliseconds} ms");
        NetDeviceRig.WaitUntil(() => rig.Tx.UsedIdx == 2, "the second tx chain was not used");
    }

    [Fact]
    public void AReceiveBeyondTheBudgetIsHeldThenDeliveredAndTransmitIsNotHeldByIt()
    {
        using var rig = new NetDeviceRig();
        rig.Device.LimitRate(rx: OneFramePer400Ms, tx: null);
        for (int i = 0; i < 4; i++) rig.Rx.Publish(rig.Rx.AddChain((1526, true)));
        rig.Activate(Basic);
        var clock = Stopwatch.StartNew();
        rig.HostSends(Header(), Ethernet(100, [2, 0, 0, 0, 0, 1]));
        rig.HostSends(Header(), Ethernet(101, [2, 0, 0, 0, 0, 1]));
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 1, "the first frame was not received");
        // The other direction has its own limiter: a transmit goes at once while rx waits.
        QueueTx(rig, Ethernet(60, NetDeviceRig.Mac));
        rig.NotifyTx();
        Assert.Equal(72, rig.HostReceives().Length);
        Assert.Equal((ushort)1, rig.Rx.UsedIdx);
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx == 2, "the second frame was never delivered");
        Assert.True(clock.ElapsedMilliseconds >= 400, $"the second frame came after {clock.ElapsedMilliseconds} ms");
        Assert.Equal(113u, rig.Rx.UsedElement(1).Length);
        Assert.Equal(2, rig.Statistics.RxFrames);
    }

    [Fact]
    public void BothLimitersAreSavedAndRestored()
    {
        using var rig = new NetDeviceRig();
        rig.Device.LimitRate(rx: OneFramePer400Ms, tx: new RateLimiterConfig(new TokenBucketConfig(1000, 100)));
        var saved = rig.Device.SaveState();
        using var other = new NetDeviceRig();
        other.Device.RestoreState(saved);
        Assert.Equal(OneFramePer400Ms, other.Device.RxRateLimiter.Config);
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(1000, 100)), other.Device.TxRateLimiter.Config);
        var hostile = saved with { TxRateLimiter = new RateLimiterState { Ops = new TokenBucketState { Size = 1, RefillTime = 1, Budget = 5 } } };
        using var third = new NetDeviceRig();
        Assert.Throws<KvmSharp.State.StateException>(() => third.Device.RestoreState(hostile));
        Assert.Equal(new RateLimiterConfig(), third.Device.RxRateLimiter.Config);   // nothing taken from a refused state
    }
}
