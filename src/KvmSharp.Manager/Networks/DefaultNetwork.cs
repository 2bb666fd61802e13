using KvmSharp.Manager.Domains;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// The <c>default</c> network a libvirt host has: NAT on 192.168.122.0/24, the host at .1, DHCP from .2 to .254. Where
/// that subnet is taken on the host (an existing libvirt's virbr0, a VPN route), the next free 192.168.N.0/24.
/// </summary>
public static class DefaultNetwork
{
    public const string Name = "default";

    public static NetworkDefinition Choose(IEnumerable<Ipv4Subnet> used, string bridge)
    {
        var taken = used.ToList();
        for (int i = 0; i < 256; i++)
        {
            int n = (122 + i) % 256;
            var subnet = new Ipv4Subnet((192u << 24) | (168u << 16) | ((uint)n << 8), 24);
            if (taken.Any(t => t.Overlaps(subnet))) continue;
            var ip = new NetworkIp(Ipv4Subnet.FromUInt(subnet.Network + 1), 24, WrittenAsNetmask: true)
            {
                Range = new DhcpRange(Ipv4Subnet.FromUInt(subnet.Network + 2), Ipv4Subnet.FromUInt(subnet.Network + 254)),
            };
            return NetworkXmlReader.Normalize(new NetworkDefinition { Name = Name, Forward = ForwardMode.Nat, Bridge = bridge, Ip = ip });
        }
        throw new ManagerException(ManagerError.OperationFailed, "operation failed: every 192.168.N.0/24 is in use on the host; define 'default' yourself");
    }
}
