using System.Net.Sockets;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.Net.Host;
using KvmSharp.Native.Net;
using static KvmSharp.Tests.Devices.Virtio.Net.NetFrames;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>
/// virtio-net on a real Linux tap, created in a network namespace of the test's own (we run as root, with
/// /dev/net/tun). A host that cannot create namespaces or taps fails here with the reason: these tests never skip.
/// </summary>
public class TapDeviceTests
{
    private const string Tap = "tap0";

    private static long Counter(NetworkNamespace ns, string name) =>
        long.Parse(ns.Exec("cat", $"/sys/class/net/{Tap}/statistics/{name}").Trim());

    [Fact]
    public void FramesCrossARealTapBothWays()
    {
        using var ns = new NetworkNamespace();
        // TUNSETIFF creates the tap in the namespace of the thread that opened /dev/net/tun.
        using var tap = ns.Run(() =>
        {
            var opened = TapDevice.Open(Tap);
            // No IPv6 on the tap (/proc/sys/net follows the thread's namespace), so the only frames the
            // namespace sends out of it are the ARP requests below.
            File.WriteAllText($"/proc/sys/net/ipv6/conf/{Tap}/disable_ipv6", "1");
            return opened;
        });
        ns.Ip("addr", "add", "198.18.0.1/24", "dev", Tap);
        ns.Ip("link", "set", Tap, "up");

        using var rig = new NetDeviceRig(new TapBackend(tap));
        rig.Activate(NetFeatures.Mac | NetFeatures.Status | NetFeatures.MergeableRxBuffers);

        // Guest to host: the tap's interface receives what the device writes to the tap (and nothing else does).
        Assert.Equal(0, Counter(ns, "rx_packets"));
        var frame = Ethernet(60, NetDeviceRig.Mac);
        ushort head = rig.Tx.AddChain((12, false), (60, false));
        rig.Memory.Write(rig.Buffer(rig.Tx, head), Header());
        rig.Memory.Write(rig.Buffer(rig.Tx, head + 1), frame);
        rig.Tx.Publish(head);
        rig.NotifyTx();
        NetDeviceRig.WaitUntil(() => Counter(ns, "rx_packets") > 0, $"{Tap} never received the device's frame");
        Assert.Equal(1, Counter(ns, "rx_packets"));
        Assert.Equal(60, Counter(ns, "rx_bytes"));   // the frame without its vnet header
        Assert.Equal(1, rig.Statistics.TxFrames);

        // Host to guest: a datagram to a neighbour on the tap's subnet makes the namespace ARP for it through the tap.
        for (int i = 0; i < 8; i++) rig.Rx.Publish(rig.Rx.AddChain((2048, true)));
        rig.NotifyRx();
        ns.Run(() =>
        {
            using var udp = new UdpClient();
            return udp.Send([1, 2, 3], 3, "198.18.0.2", 9);
        });
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx > 0, $"no frame came from {Tap}");
        var received = rig.RxWritten(0);
        Assert.Equal(1, received[10]);   // num_buffers
        Assert.Equal(new byte[] { 0x08, 0x06 }, received[(12 + 12)..(12 + 14)]);   // an ARP frame
        Assert.Equal(new byte[] { 198, 18, 0, 2 }, received[(12 + 14 + 24)..(12 + 14 + 28)]);   // asking for .2
    }

    [Fact]
    public void ATapMadeBeforehandByIpTuntapIsOpened()
    {
        using var ns = new NetworkNamespace();
        ns.Ip("tuntap", "add", "dev", Tap, "mode", "tap");   // persistent, without vnet_hdr: TUNSETIFF sets our flags
        using var tap = ns.Run(() => TapDevice.Open(Tap));
        Assert.Equal(Tap, tap.Name);
        Assert.True(tap.SupportsOffloads);   // Linux taps take all four TUN_F offloads
    }

    [Fact]
    public void ATapInUseIsReportedBusy()
    {
        using var ns = new NetworkNamespace();
        var e = ns.Run(() =>
        {
            using var first = TapDevice.Open(Tap);
            return Assert.Throws<TapException>(() => TapDevice.Open(Tap));
        });
        Assert.Contains("busy", e.Message);
    }

    [Fact]
    public void BadTapNamesGetOneLineErrors()
    {
        Assert.Contains("not a network interface name", Assert.Throws<TapException>(() => TapDevice.Open("")).Message);
        Assert.Contains("not a network interface name", Assert.Throws<TapException>(() => TapDevice.Open("a-name-of-16-chr")).Message);
        Assert.Contains("not a network interface name", Assert.Throws<TapException>(() => TapDevice.Open("a/b")).Message);
    }
}
