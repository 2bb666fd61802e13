using System.Text;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// The nftables table of one network, ours alone (<c>ip kvmsharp_UUID</c>), so that removing the network is one
/// <c>delete table</c> and nothing else on the host is touched. NAT: guests' packets leaving the subnet are
/// masqueraded (except to multicast 224.0.0.0/24 and broadcast, as libvirt), forwarding from the bridge is accepted
/// and back to it only for established connections. Isolated: nothing is forwarded into or out of the bridge.
/// The script first makes and deletes the table, so that applying it replaces any old one in the same transaction.
/// </summary>
internal static class NftRuleset
{
    public static string TableName(Guid uuid) => $"kvmsharp_{uuid:N}";

    public static string Script(string table, NetworkDefinition network)
    {
        string bridge = network.Bridge ?? throw new ArgumentException("the network has no bridge name", nameof(network));
        var s = new StringBuilder();
        s.Append($"table ip {table} {{}}\ndelete table ip {table}\n");
        s.Append($"table ip {table} {{\n");
        if (network.Forward == ForwardMode.Nat && network.Ip is { } ip)
        {
            string subnet = ip.Subnet.ToString();
            s.Append("  chain postrouting {\n    type nat hook postrouting priority srcnat; policy accept;\n");
            s.Append($"    ip saddr {subnet} ip daddr 224.0.0.0/24 return\n");
            s.Append($"    ip saddr {subnet} ip daddr 255.255.255.255 return\n");
            s.Append($"    ip saddr {subnet} ip daddr != {subnet} masquerade\n  }}\n");
            s.Append("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
            s.Append($"    iifname \"{bridge}\" oifname \"{bridge}\" accept\n");
            s.Append($"    iifname \"{bridge}\" ip saddr {subnet} accept\n");
            s.Append($"    oifname \"{bridge}\" ip daddr {subnet} ct state established,related accept\n");
        }
        else
        {
            s.Append("  chain forward {\n    type filter hook forward priority filter; policy accept;\n");
            s.Append($"    iifname \"{bridge}\" oifname \"{bridge}\" accept\n");
        }
        s.Append($"    iifname \"{bridge}\" reject\n");
        s.Append($"    oifname \"{bridge}\" reject\n  }}\n}}\n");
        return s.ToString();
    }
}
