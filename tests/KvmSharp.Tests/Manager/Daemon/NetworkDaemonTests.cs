using System.Diagnostics;
using System.Text.RegularExpressions;
using KvmSharp.Tests.Devices.Virtio.Net;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// Debian's virsh on kvmsharpd's virtual networks, the daemon inside a network namespace the test made (nothing
/// touches the host's own networking): the default network appears on first use; a NAT network's bridge, nftables
/// table and dnsmasq appear with net-start and are gone after net-destroy; a restarted daemon adopts an active
/// network and makes again only what went missing.
/// </summary>
public sealed class NetworkDaemonTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-net").FullName;
    private readonly NetworkNamespace _ns = new();

    private const string Lab = """
        <network>
          <name>lab</name>
          <forward mode='nat'/>
          <bridge name='kvbr7' stp='off'/>
          <ip address='10.77.0.1' prefix='24'>
            <dhcp>
              <range start='10.77.0.10' end='10.77.0.50'/>
              <host mac='52:54:00:77:00:05' name='fixed' ip='10.77.0.5'/>
            </dhcp>
          </ip>
        </network>
        """;

    [Fact]
    public void VirshManagesANatNetworkWhoseHostPartsComeAndGo()
    {
        _ns.Ip("link", "set", "lo", "up");
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"), ["ip", "netns", "exec", _ns.Name]);
        try
        {
            // First use: the default network is defined, autostart, and running on 192.168.122.0/24 (free in this namespace).
            Assert.Matches(@"default\s+active\s+yes\s+yes", daemon.VirshOk("net-list", "--all"));
            Assert.Contains("inet 192.168.122.1/24", _ns.Exec("ip", "-4", "addr", "show", "dev", "virbr0"));

            string xml = Path.Combine(_dir, "lab.xml");
            File.WriteAllText(xml, Lab);
            Assert.Contains("Network lab defined", daemon.VirshOk("net-define", xml));
            Assert.Matches(@"lab\s+inactive\s+no\s+yes", daemon.VirshOk("net-list", "--all"));
            Assert.False(LinkExists("kvbr7"));

            daemon.VirshOk("net-start", "lab");
            string uuid = daemon.VirshOk("net-uuid", "lab").Trim();
            string table = $"kvmsharp_{uuid.Replace("-", "")}";
            Assert.Contains("inet 10.77.0.1/24", _ns.Exec("ip", "-4", "addr", "show", "dev", "kvbr7"));
            Assert.Contains("masquerade", _ns.Exec("nft", "list", "table", "ip", table));
            Assert.Equal("1", _ns.Exec("cat", "/proc/sys/net/ipv4/ip_forward").Trim());
            int dnsmasq = DnsmasqPid("lab");
            Assert.Contains("dnsmasq", File.ReadAllText($"/proc/{dnsmasq}/cmdline"));
            // dnsmasq listens on the bridge's address only (bind-interfaces), port 67 for DHCP and 53 for DNS.
            string sockets = _ns.Exec("ss", "-lnup");
            Assert.Matches(@"10\.77\.0\.1(%kvbr7)?:53\b", sockets);
            Assert.DoesNotContain("127.0.0.1:53", sockets);

            string info = daemon.VirshOk("net-info", "lab");
            Assert.Matches(@"Active:\s+yes", info);
            Assert.Matches(@"Bridge:\s+kvbr7", info);
            string dumped = daemon.VirshOk("net-dumpxml", "lab");
            Assert.Contains("<forward mode=\"nat\"", dumped);
            Assert.Contains($"<uuid>{uuid}</uuid>", dumped);
            Assert.Contains("52:54:00:77:00:05", daemon.VirshOk("net-dumpxml", "--inactive", "lab"));
            daemon.VirshOk("net-autostart", "lab");
            Assert.Matches(@"lab\s+active\s+yes\s+yes", daemon.VirshOk("net-list", "--all"));
            Assert.DoesNotContain("10.77.0.", daemon.VirshOk("net-dhcp-leases", "lab"));

            // A domain on a network that is not there, or not active, is refused before any VMM starts, in libvirt's words.
            string domainXml = Path.Combine(_dir, "dom.xml");
            File.WriteAllText(domainXml, DomainOn("d1", "nowhere"));
            daemon.VirshOk("define", domainXml);
            var (code, _, error) = daemon.Virsh("start", "d1");
            Assert.NotEqual(0, code);
            Assert.Contains("Network not found: no network with matching name 'nowhere'", error);
            // kill -9 of the daemon: the next one adopts the network as it is (same dnsmasq)...
            daemon.Kill();
            daemon.Start();
            Assert.Matches(@"lab\s+active\s+yes\s+yes", daemon.VirshOk("net-list", "--all"));
            Assert.Equal(dnsmasq, DnsmasqPid("lab"));
            // ...and makes again what went missing while it was away.
            Process.GetProcessById(dnsmasq).Kill();
            _ns.Exec("nft", "delete", "table", "ip", table);
            daemon.Kill();
            daemon.Start();
            Assert.Matches(@"lab\s+active", daemon.VirshOk("net-list", "--all"));
            Assert.NotEqual(dnsmasq, DnsmasqPid("lab"));
            Assert.Contains("masquerade", _ns.Exec("nft", "list", "table", "ip", table));
            Assert.Contains("made again: nftables table, dnsmasq", daemon.Log);
            dnsmasq = DnsmasqPid("lab");

            // net-destroy takes it all down: bridge, nft table, dnsmasq.
            daemon.VirshOk("net-destroy", "lab");
            Assert.False(LinkExists("kvbr7"));
            Assert.DoesNotContain(table, _ns.Exec("nft", "list", "tables"));
            Poll.Until(() => !Alive(dnsmasq), () => $"dnsmasq {dnsmasq} still runs after net-destroy");
            Assert.Matches(@"lab\s+inactive", daemon.VirshOk("net-list", "--all"));
            var (startCode, _, startError) = daemon.Virsh("net-destroy", "lab");
            Assert.NotEqual(0, startCode);
            Assert.Contains("network 'lab' is not active", startError);
            File.WriteAllText(domainXml, DomainOn("d2", "lab"));
            daemon.VirshOk("define", domainXml);
            var (d2Code, _, d2Error) = daemon.Virsh("start", "d2");
            Assert.NotEqual(0, d2Code);
            Assert.Contains("Requested operation is not valid: network 'lab' is not active", d2Error);
            Assert.False(LinkExists("vnet0"), "a refused start left its tap");

            daemon.VirshOk("net-undefine", "lab");
            Assert.DoesNotContain("lab", daemon.VirshOk("net-list", "--all"));
            Assert.False(Directory.Exists(Path.Combine(_dir, "state", "networks", "lab")));
            var (lookupCode, _, lookupError) = daemon.Virsh("net-info", "lab");
            Assert.NotEqual(0, lookupCode);
            Assert.Contains("Network not found", lookupError);

            daemon.VirshOk("net-destroy", "default");
            Assert.False(LinkExists("virbr0"));
        }
        finally
        {
            StopEveryDnsmasq();
        }
    }

    private static string DomainOn(string name, string network) => $"""
        <domain type='qemu'><name>{name}</name><memory unit='MiB'>64</memory>
          <os><type arch='x86_64'>hvm</type><kernel>/nonexistent/vmlinuz</kernel></os>
          <devices><interface type='network'><source network='{network}'/><model type='virtio'/></interface></devices>
        </domain>
        """;

    private bool LinkExists(string link)
    {
        try { _ns.Ip("link", "show", "dev", link); return true; }
        catch (Xunit.Sdk.XunitException) { return false; }
    }

    private int DnsmasqPid(string network) =>
        int.Parse(File.ReadAllText(Path.Combine(_dir, "state", "networks", network, "dnsmasq.pid")).Trim(), System.Globalization.CultureInfo.InvariantCulture);

    private static bool Alive(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].First() is not ('Z' or 'X');
        }
        catch (IOException) { return false; }
    }

    /// <summary>dnsmasq daemonizes: whatever a failed test left running is ended here, by the pids the daemon wrote.</summary>
    private void StopEveryDnsmasq()
    {
        string root = Path.Combine(_dir, "state", "networks");
        if (!Directory.Exists(root)) return;
        foreach (var file in Directory.EnumerateFiles(root, "dnsmasq.pid", SearchOption.AllDirectories))
        {
            try
            {
                int pid = int.Parse(File.ReadAllText(file).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                if (File.ReadAllText($"/proc/{pid}/cmdline").Contains(_dir, StringComparison.Ordinal)) Process.GetProcessById(pid).Kill();
            }
            catch (Exception e) when (e is IOException or FormatException or ArgumentException or InvalidOperationException) { }
        }
    }

    public void Dispose()
    {
        _ns.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
