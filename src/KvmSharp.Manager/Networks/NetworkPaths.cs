namespace KvmSharp.Manager.Networks;

/// <summary>
/// The files of one network, under the state directory's networks/NAME/: its definition, an autostart mark, and
/// while it is active the record of what was made (<see cref="ActiveNetworkRecord"/>) and dnsmasq's conf, pid and
/// lease files. A restarted daemon finds everything it needs here.
/// </summary>
public sealed record NetworkPaths(string Directory)
{
    public static string Root(string stateDirectory) => Path.Combine(stateDirectory, "networks");

    public static NetworkPaths For(string stateDirectory, string name) => new(Path.Combine(Root(stateDirectory), name));

    public string Definition => Path.Combine(Directory, "network.xml");
    public string Autostart => Path.Combine(Directory, "autostart");
    public string Active => Path.Combine(Directory, "active.json");
    public string DnsmasqConf => Path.Combine(Directory, "dnsmasq.conf");
    public string DnsmasqPid => Path.Combine(Directory, "dnsmasq.pid");
    public string Leases => Path.Combine(Directory, "dnsmasq.leases");
    public string DhcpHosts => Path.Combine(Directory, "dnsmasq.hosts");
}
