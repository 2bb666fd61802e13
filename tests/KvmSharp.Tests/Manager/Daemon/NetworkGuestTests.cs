using System.Net;
using System.Net.Sockets;
using System.Security;
using System.Text;
using System.Text.RegularExpressions;
using KvmSharp.Machine.Images;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Devices.Virtio.Net;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// Two default guests on the daemon's default NAT network, all inside a network namespace the test made: both get
/// DHCP leases from the network's dnsmasq (shown by virsh net-dhcp-leases), ping each other across the bridge, and
/// fetch a page from a server outside the bridge (a second namespace behind a veth, the "uplink"), which sees the
/// connection come from the uplink address: masqueraded.
/// </summary>
public sealed class NetworkGuestTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-netguest").FullName;
    private readonly NetworkNamespace _ns = new();
    private readonly NetworkNamespace _uplink = new();

    [Fact]
    public void TwoGuestsOnANatNetworkGetLeasesReachEachOtherAndTheOutside()
    {
        _ns.Ip("link", "set", "lo", "up");
        _uplink.Ip("link", "set", "lo", "up");
        _ns.Ip("link", "add", "up0", "type", "veth", "peer", "name", "up1", "netns", _uplink.Name);
        _ns.Ip("addr", "add", "10.99.0.1/24", "dev", "up0");
        _ns.Ip("link", "set", "up0", "up");
        _uplink.Ip("addr", "add", "10.99.0.2/24", "dev", "up1");
        _uplink.Ip("link", "set", "up1", "up");
        using var server = _uplink.Run(() =>
        {
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            s.Bind(new IPEndPoint(IPAddress.Parse("10.99.0.2"), 8080));
            s.Listen(4);
            return s;
        });
        string? peer = null;
        var serving = new Thread(() =>
        {
            using var client = server.Accept();
            peer = ((IPEndPoint)client.RemoteEndPoint!).Address.ToString();
            var request = new byte[1024];
            client.Receive(request);
            client.Send(Encoding.ASCII.GetBytes("HTTP/1.0 200 OK\r\nContent-Length: 14\r\n\r\nuplink-says-hi"));
            client.Shutdown(SocketShutdown.Both);
        }) { IsBackground = true };
        serving.Start();

        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"), ["ip", "netns", "exec", _ns.Name]);
        try
        {
            var macs = new[] { "52:54:00:aa:00:01", "52:54:00:aa:00:02" };
            for (int i = 0; i < 2; i++)
            {
                string xml = Path.Combine(_dir, $"g{i}.xml");
                File.WriteAllText(xml, GuestXml($"g{i}", macs[i]));
                daemon.VirshOk("define", xml);
                daemon.VirshOk("start", $"g{i}");
            }
            // Each NIC has its tap on the default network's bridge, named in the live XML as libvirt names it.
            Assert.Matches(@"vnet\d+\s+network\s+default\s+virtio\s+52:54:00:aa:00:01", daemon.VirshOk("domiflist", "g0"));
            Assert.Contains("master virbr0", _ns.Exec("ip", "-o", "link", "show", "master", "virbr0"));

            // Each guest asks dnsmasq for a lease on eth0 (busybox udhcpc; a guest whose /init did so at boot renews
            // the same one): both leases appear in dnsmasq's file, as virsh shows them. The address is then set
            // from that lease (udhcpc's hook is a no-op here, which keeps the typed commands short).
            for (int i = 0; i < 2; i++)
            {
                using var console = new VirshConsole(daemon.Uri, $"g{i}");
                console.Run("echo boot-$((3*7))", "boot-21");
                console.Run("ip link set eth0 up; udhcpc -i eth0 -q -n -t 5 -T 2 -s /bin/true; echo dhcp-$((4*8))", "dhcp-32", seconds: 120);
            }
            string leases = "";
            Poll.Until(() => macs.All((leases = daemon.VirshOk("net-dhcp-leases", "default")).Contains),
                       () => $"no lease for both guests: {leases}\n{DaemonProcess.Tail(daemon.Log)}", seconds: 120);
            string ip0 = LeaseOf(leases, macs[0]);
            string ip1 = LeaseOf(leases, macs[1]);
            Assert.StartsWith("192.168.122.", ip0);
            Assert.StartsWith("192.168.122.", ip1);
            using (var console = new VirshConsole(daemon.Uri, "g1"))
                console.Run($"ip addr add {ip1}/24 dev eth0; echo addr-$((5*9))", "addr-45", seconds: 60);

            using (var console = new VirshConsole(daemon.Uri, "g0"))
            {
                console.Run($"ip addr add {ip0}/24 dev eth0; ip route add default via 192.168.122.1; echo addr-$((5*9))", "addr-45", seconds: 60);
                console.Run($"ping -c 1 -W 3 {ip1} && echo ping-$((6*7))", "ping-42", seconds: 120);
                console.Run("wget -q -O- http://10.99.0.2:8080/ && echo", "uplink-says-hi", seconds: 120);
            }
            Assert.True(serving.Join(TimeSpan.FromSeconds(30)), "the uplink server was never reached");
            Assert.Equal("10.99.0.1", peer);   // masqueraded behind the namespace's uplink address

            // A domain's end removes its tap.
            daemon.VirshOk("destroy", "g0");
            daemon.VirshOk("destroy", "g1");
            Assert.DoesNotContain("vnet", _ns.Exec("ip", "-o", "link", "show"));
            daemon.VirshOk("net-destroy", "default");
        }
        finally
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(_dir, "state"), "dnsmasq.pid", SearchOption.AllDirectories))
            {
                try { System.Diagnostics.Process.GetProcessById(int.Parse(File.ReadAllText(file).Trim(), System.Globalization.CultureInfo.InvariantCulture)).Kill(); }
                catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException) { }
            }
        }
    }

    private static string LeaseOf(string leases, string mac) =>
        Regex.Match(leases, Regex.Escape(mac) + @"\s+ipv4\s+([0-9.]+)/24").Groups[1].Value is { Length: > 0 } ip ? ip
            : throw new Xunit.Sdk.XunitException($"no lease for {mac} in: {leases}");

    /// <summary>The default guest with one NIC on the default network and no disk.</summary>
    private string GuestXml(string name, string mac) => $"""
        <domain type='qemu'>
          <name>{name}</name>
          <memory unit='MiB'>192</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64'>hvm</type>
            <kernel>{SecurityElement.Escape(guest.Guest.KernelPath)}</kernel>
            <initrd>{SecurityElement.Escape(guest.Guest.InitrdPath)}</initrd>
            <cmdline>{SecurityElement.Escape(DefaultGuestCommandLine.Shell())}</cmdline>
          </os>
          <devices>
            <interface type='network'><mac address='{mac}'/><source network='default'/><model type='virtio'/></interface>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
          </devices>
        </domain>
        """;

    public void Dispose()
    {
        _uplink.Dispose();
        _ns.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
