using System.Globalization;
using System.Net;
using System.Text;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// dnsmasq's conf file for one network (dnsmasq(8)): DHCP and DNS on the bridge alone (<c>interface</c> with
/// <c>bind-interfaces</c>, never the host's other interfaces or lo), the lease file and pid file in the network's
/// directory. dnsmasq reads nothing else of the host's: <c>--conf-file</c> replaces /etc/dnsmasq.conf,
/// <c>no-hosts</c> keeps /etc/hosts out of its answers and <c>no-resolv</c> stops it reading and polling
/// /etc/resolv.conf; the upstream servers are the daemon's own nameservers, written here as <c>server=</c> lines.
/// </summary>
internal static class DnsmasqConfig
{
    public static string Build(NetworkDefinition network, NetworkPaths paths, IReadOnlyList<IPAddress> upstream)
    {
        var ip = network.Ip ?? throw new ArgumentException("dnsmasq serves a network with an address", nameof(network));
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"# kvmsharpd: network '{network.Name}'; written at every start, edits are lost\n");
        s.Append("strict-order\n");
        s.Append(CultureInfo.InvariantCulture, $"pid-file={paths.DnsmasqPid}\n");
        s.Append("except-interface=lo\n");
        s.Append(CultureInfo.InvariantCulture, $"interface={network.Bridge}\n");
        s.Append("bind-interfaces\n");
        s.Append("no-hosts\n");
        s.Append("no-resolv\n");
        foreach (var server in upstream) s.Append(CultureInfo.InvariantCulture, $"server={server}\n");
        if (ip.Range is { } range)
        {
            uint size = Ipv4Subnet.ToUInt(range.End) - Ipv4Subnet.ToUInt(range.Start) + 1;
            s.Append(CultureInfo.InvariantCulture, $"dhcp-range={range.Start},{range.End},{Ipv4Subnet.FromUInt(ip.Subnet.Mask)}\n");
            s.Append("dhcp-no-override\n");
            s.Append("dhcp-authoritative\n");
            s.Append(CultureInfo.InvariantCulture, $"dhcp-lease-max={size + (uint)ip.Hosts.Count}\n");
            s.Append(CultureInfo.InvariantCulture, $"dhcp-leasefile={paths.Leases}\n");
            foreach (var host in ip.Hosts)
                s.Append(CultureInfo.InvariantCulture, $"dhcp-host={string.Join(',', new[] { host.Mac, host.Ip.ToString(), host.Name }.Where(x => x is not null))}\n");
        }
        else if (ip.Hosts.Count > 0)
        {
            // Fixed hosts without a range: dnsmasq needs a static range to serve them (libvirt does the same).
            s.Append(CultureInfo.InvariantCulture, $"dhcp-range={ip.Subnet.ToString().Split('/')[0]},static,{Ipv4Subnet.FromUInt(ip.Subnet.Mask)}\n");
            s.Append(CultureInfo.InvariantCulture, $"dhcp-leasefile={paths.Leases}\n");
            foreach (var host in ip.Hosts)
                s.Append(CultureInfo.InvariantCulture, $"dhcp-host={string.Join(',', new[] { host.Mac, host.Ip.ToString(), host.Name }.Where(x => x is not null))}\n");
        }
        return s.ToString();
    }

    /// <summary>The IPv4 nameservers of /etc/resolv.conf (resolv.conf(5)); none when it cannot be read.</summary>
    public static IReadOnlyList<IPAddress> HostNameservers(string path = "/etc/resolv.conf")
    {
        try
        {
            return [.. File.ReadLines(path)
                .Select(line => line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))
                .Where(words => words.Length >= 2 && words[0] == "nameserver")
                .Select(words => Ipv4Subnet.ParseAddress(words[1]))
                .OfType<IPAddress>()
                .Take(3)];
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
