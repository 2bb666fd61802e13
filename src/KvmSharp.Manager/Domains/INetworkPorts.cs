namespace KvmSharp.Manager.Domains;

/// <summary>One guest NIC on a virtual network: &lt;interface type='network'&gt;&lt;source network=…/&gt; with its MAC; <paramref name="Tap"/> a name it must have (a restored machine's), else null.</summary>
public sealed record NetworkPortRequest(string Network, string Mac, string? Tap = null);

/// <summary>
/// Where a domain's network interfaces get their taps: the network driver, seen from the domains (which know
/// networks only by name). <see cref="Plug"/> makes one tap per NIC on its network's bridge, or refuses as libvirt
/// does (an unknown network, one that is not active); <see cref="Unplug"/> removes them when the domain stops.
/// </summary>
public interface INetworkPorts
{
    IReadOnlyList<string> Plug(string domain, IReadOnlyList<NetworkPortRequest> nics);
    void Unplug(IEnumerable<string> taps);
}
