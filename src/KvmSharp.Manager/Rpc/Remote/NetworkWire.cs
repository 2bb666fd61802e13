using KvmSharp.Manager.Networks;
using KvmSharp.Manager.Rpc.Xdr;

namespace KvmSharp.Manager.Rpc.Remote;

/// <summary>
/// The network structures of remote_protocol.x: remote_nonnull_network {name; uuid[16]} and remote_network_dhcp_lease
/// {iface; hyper expirytime; int type; remote_string mac, iaid; ipaddr; uint prefix; remote_string hostname, clientid}.
/// </summary>
public static class NetworkWire
{
    /// <summary>REMOTE_NETWORK_LIST_MAX and REMOTE_NETWORK_DHCP_LEASES_MAX.</summary>
    public const int NetworkListMax = 16384, DhcpLeasesMax = 65536;

    /// <summary>VIR_FROM_NETWORK: the error domain of network calls.</summary>
    public const int FromNetwork = 19;

    /// <summary>VIR_IP_ADDR_TYPE_IPV4.</summary>
    private const int AddressTypeIpv4 = 0;

    public static NetworkRef ReadNetwork(ref XdrReader reader)
    {
        string name = reader.ReadString();
        return new NetworkRef(name, reader.ReadUuid());
    }

    public static void WriteNetwork(XdrWriter writer, NetworkRef network)
    {
        writer.WriteString(network.Name);
        writer.WriteUuid(network.Uuid);
    }

    public static void WriteLease(XdrWriter writer, DhcpLease lease)
    {
        writer.WriteString(lease.Interface);
        writer.WriteInt64(lease.ExpiryTime);
        writer.WriteInt32(AddressTypeIpv4);
        writer.WriteOptionalString(lease.Mac);
        writer.WriteOptionalString(null);
        writer.WriteString(lease.IpAddress);
        writer.WriteUInt32(lease.Prefix);
        writer.WriteOptionalString(lease.Hostname);
        writer.WriteOptionalString(lease.ClientId);
    }
}
