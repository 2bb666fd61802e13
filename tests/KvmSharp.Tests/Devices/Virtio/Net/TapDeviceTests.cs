using System.Diagnostics;
using System.Net.Sockets;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.Net.Host;
using KvmSharp.Native.Net;
using static KvmSharp.Tests.Devices.Virtio.Net.NetFrames;

namespace KvmSharp.Tests.Devices.Virtio.Net;

/// <summary>
/// virtio-net on a real Linux tap that the test creates (root, /dev/net/tun). A tap opened by TUNSETIFF without
/// TUNSETPERSIST vanishes when its descriptor closes, so nothing is left behind. A host that cannot create
/// taps fails here with the reason: these tests never skip.
/// </summary>
public class TapDeviceTests
{
    private static string UniqueName() => $"kst{Random.Shared.Next():x8}";

    private static void Ip(params string[] args)
    {
        using var ip = Process.Start(new ProcessStartInfo("ip", args) { RedirectStandardError = true })!;
        string error = ip.StandardError.ReadToEnd();
        ip.WaitForExit();
        Assert.True(ip.ExitCode == 0, $"ip {string.Join(' ', args)}: {error}");
    }

    private static long Counter(string tap, string name) =>
        long.Parse(File.ReadAllText($"/sys/class/net/{tap}/statistics/{name}").Trim());

    [Fact]
    public void FramesCrossARealTapBothWays()
    {
        string name = UniqueName();
        using var tap = TapDevice.Open(name);   // throws a TapException saying why on a host without taps
        Assert.True(Directory.Exists($"/sys/class/net/{name}"), $"TUNSETIFF did not create {name}");
        // No IPv6 on the tap, so the only frames the host sends out of it are the ARP requests below.
        File.WriteAllText($"/proc/sys/net/ipv6/conf/{name}/disable_ipv6", "1");
        int subnet = Random.Shared.Next(256);
        Ip("addr", "add", $"198.18.{subnet}.1/24", "dev", name);
        Ip("link", "set", name, "up");

        using var rig = new NetDeviceRig(new TapBackend(tap));
        rig.Activate(NetFeatures.Mac | NetFeatures.Status | NetFeatures.MergeableRxBuffers);

        // Guest to host: the tap's interface receives what the device writes to the tap.
        long rxPackets = Counter(name, "rx_packets");
        var frame = Ethernet(60, NetDeviceRig.Mac);
        ushort head = rig.Tx.AddChain((12, false), (60, false));
        rig.Memory.Write(rig.Buffer(rig.Tx, head), Header());
        rig.Memory.Write(rig.Buffer(rig.Tx, head + 1), frame);
        rig.Tx.Publish(head);
        rig.NotifyTx();
        NetDeviceRig.WaitUntil(() => Counter(name, "rx_packets") > rxPackets, $"{name} never received the device's frame");
        Assert.Equal(rxPackets + 1, Counter(name, "rx_packets"));
        Assert.Equal(1, rig.Statistics.TxFrames);

        // Host to guest: a datagram to a neighbour on the tap's subnet makes the host ARP for it through the tap.
        for (int i = 0; i < 8; i++) rig.Rx.Publish(rig.Rx.AddChain((2048, true)));
        rig.NotifyRx();
        using var udp = new UdpClient();
        udp.Send([1, 2, 3], 3, $"198.18.{subnet}.2", 9);
        NetDeviceRig.WaitUntil(() => rig.Rx.UsedIdx > 0, $"no frame came from {name}");
        var received = rig.RxWritten(0);
        Assert.Equal(1, received[10]);   // num_buffers
        Assert.Equal(new byte[] { 0x08, 0x06 }, received[(12 + 12)..(12 + 14)]);   // an ARP frame
        Assert.Equal(new byte[] { 198, 18, (byte)subnet, 2 }, received[(12 + 14 + 24)..(12 + 14 + 28)]);   // asking for .2
    }

    [Fact]
    public void BadTapNamesGetOneLineErrors()
    {
        Assert.Contains("not a network interface name", Assert.Throws<TapException>(() => TapDevice.Open("")).Message);
        Assert.Contains("not a network interface name", Assert.Throws<TapException>(() => TapDevice.Open("a-name-of-16-chr")).Message);
        Assert.Contains("not a network interface name", Assert.Throws<TapException>(() => TapDevice.Open("a/b")).Message);
    }

    [Fact]
    public void ATapInUseIsReportedBusy()
    {
        string name = UniqueName();
        using var first = TapDevice.Open(name);
        var e = Assert.Throws<TapException>(() => TapDevice.Open(name));
        Assert.Contains("busy", e.Message);
    }
}
