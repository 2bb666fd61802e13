using System.Net;
using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.Networks;

/// <summary>&lt;forward mode='nat'/&gt;: guests reach the outside through the host's masquerade; none: isolated, guests and host only.</summary>
public enum ForwardMode
{
    Isolated,
    Nat,
}

/// <summary>
/// One libvirt virtual network as the daemon keeps it: the subset of libvirt's network XML (formatnetwork) that we
/// honour, with value equality. <see cref="NetworkXmlReader.Parse"/> gives the normalized form (UUID, bridge name
/// and MAC filled in); <see cref="NetworkXmlWriter.Format"/> writes it back.
/// </summary>
public sealed record NetworkDefinition
{
    public required string Name { get; init; }
    public Guid Uuid { get; init; }
    public ForwardMode Forward { get; init; } = ForwardMode.Isolated;
    /// <summary>&lt;bridge name=…&gt;: the Linux bridge; null until normalized (the daemon picks virbrN).</summary>
    public string? Bridge { get; init; }
    /// <summary>&lt;bridge stp=…&gt;: spanning tree on the bridge (libvirt's default: on).</summary>
    public bool Stp { get; init; } = true;
    /// <summary>&lt;bridge delay=…&gt;: the bridge's forward delay in seconds.</summary>
    public uint Delay { get; init; }
    /// <summary>&lt;mac address=…&gt;: the bridge's own MAC; null until normalized.</summary>
    public string? Mac { get; init; }
    /// <summary>The one IPv4 &lt;ip&gt;: the host's address on the bridge, and DHCP; null: the bridge has no address.</summary>
    public NetworkIp? Ip { get; init; }
}

/// <summary>
/// &lt;ip address=… prefix=…|netmask=…&gt;: <paramref name="Address"/> is the host's (the guests' gateway and DNS
/// server). <paramref name="WrittenAsNetmask"/> keeps the form the user wrote, as libvirt writes it back.
/// </summary>
public sealed record NetworkIp(IPAddress Address, int Prefix, bool WrittenAsNetmask = false)
{
    /// <summary>&lt;dhcp&gt;&lt;range start end/&gt;: the addresses dnsmasq hands out; null: no DHCP.</summary>
    public DhcpRange? Range { get; init; }
    /// <summary>&lt;dhcp&gt;&lt;host mac ip name/&gt;: fixed leases.</summary>
    public ValueList<DhcpHost> Hosts { get; init; } = [];

    public Ipv4Subnet Subnet => Ipv4Subnet.Of(Address, Prefix);
}

public sealed record DhcpRange(IPAddress Start, IPAddress End);

/// <summary>A fixed lease: by <paramref name="Mac"/> (or by <paramref name="Name"/>, the client's host name) to <paramref name="Ip"/>.</summary>
public sealed record DhcpHost(string? Mac, IPAddress Ip, string? Name);
