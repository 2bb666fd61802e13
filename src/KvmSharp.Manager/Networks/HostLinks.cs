using System.Globalization;
using System.Net;

namespace KvmSharp.Manager.Networks;

/// <summary>The host's links, addresses and routes as <c>ip</c> shows them, and the bridge and tap changes a network makes.</summary>
internal static class HostLinks
{
    /// <summary>The names of every link (<c>ip -o link show</c>: "N: NAME[@PEER]: &lt;FLAGS&gt; …").</summary>
    public static HashSet<string> LinkNames()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (var line in HostCommand.Ip("-o", "link", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = line.Split(": ", 3);
            if (parts.Length >= 2) names.Add(parts[1].Split('@')[0].Trim());
        }
        return names;
    }

    public static bool Exists(string link) => HostCommand.TryIp("link", "show", "dev", link);

    /// <summary>Every IPv4 subnet the host has an address in or a route to (the default route aside).</summary>
    public static List<Ipv4Subnet> UsedSubnets()
    {
        var used = new List<Ipv4Subnet>();
        foreach (var line in HostCommand.Ip("-4", "-o", "addr", "show").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var words = line.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            int inet = Array.IndexOf(words, "inet");
            if (inet >= 0 && inet + 1 < words.Length && ParsePrefix(words[inet + 1]) is { } subnet) used.Add(subnet);
        }
        foreach (var line in HostCommand.Ip("-4", "route", "show", "table", "all").Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            // "local 10.0.0.1 dev …" and "broadcast …" lines of the local table name the type first.
            string destination = words.Length > 1 && words[0] is "local" or "broadcast" or "unicast" ? words[1] : words.FirstOrDefault() ?? "";
            if (destination != "default" && ParsePrefix(destination) is { } subnet && subnet.Prefix > 0) used.Add(subnet);
        }
        return used;
    }

    private static Ipv4Subnet? ParsePrefix(string text)
    {
        var parts = text.Split('/');
        if (Ipv4Subnet.ParseAddress(parts[0]) is not { } address) return null;
        int prefix = 32;
        if (parts.Length == 2 && !int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out prefix)) return null;
        return prefix is >= 0 and <= 32 ? Ipv4Subnet.Of(address, prefix) : null;
    }

    /// <summary>
    /// Makes the bridge with its MAC, STP, forward delay and address, and brings it up. The delay is set before STP
    /// is turned on (a bridge with STP refuses a delay under 2 s; the kernel applies them in that order).
    /// </summary>
    public static void CreateBridge(NetworkDefinition network)
    {
        string bridge = network.Bridge!;
        HostCommand.Ip("link", "add", bridge, "type", "bridge",
            "forward_delay", (network.Delay * 100).ToString(CultureInfo.InvariantCulture), "stp_state", network.Stp ? "1" : "0");
        try
        {
            if (network.Mac is { } mac) HostCommand.Ip("link", "set", "dev", bridge, "address", mac);
            if (network.Ip is { } ip)
                HostCommand.Ip("addr", "add", $"{ip.Address}/{ip.Prefix}", "broadcast", Ipv4Subnet.FromUInt(ip.Subnet.Broadcast).ToString(), "dev", bridge);
            HostCommand.Ip("link", "set", "dev", bridge, "up");
        }
        catch
        {
            HostCommand.TryIp("link", "del", "dev", bridge);
            throw;
        }
    }

    public static void Delete(string link) => HostCommand.TryIp("link", "del", "dev", link);

    /// <summary>
    /// A persistent tap on <paramref name="bridge"/> for one guest NIC (the VMM opens it by name). Its own MAC is the
    /// guest's with the first byte fe, as libvirt sets it, so the bridge never takes the tap's address as its own.
    /// </summary>
    /// <param name="owner">The user (and group of the same name) that may attach to it without privileges (TUNSETOWNER, TUNSETGROUP); null: only a privileged one.</param>
    public static void CreateTap(string tap, string bridge, string guestMac, string? owner = null)
    {
        HostCommand.Ip(["tuntap", "add", "dev", tap, "mode", "tap", "vnet_hdr", .. owner is null ? (string[])[] : ["user", owner, "group", owner]]);
        try
        {
            HostCommand.Ip("link", "set", "dev", tap, "address", "fe" + guestMac[2..]);
            HostCommand.Ip("link", "set", "dev", tap, "master", bridge);
            HostCommand.Ip("link", "set", "dev", tap, "up");
        }
        catch
        {
            Delete(tap);
            throw;
        }
    }

    /// <summary>Turns on IPv4 forwarding (ip-sysctl.rst net.ipv4.ip_forward) in the daemon's network namespace; never turned off again, as libvirt leaves it.</summary>
    public static void EnableForwarding()
    {
        const string path = "/proc/sys/net/ipv4/ip_forward";
        try
        {
            if (File.ReadAllText(path).Trim() != "1") File.WriteAllText(path, "1\n");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new Domains.ManagerException(Domains.ManagerError.OperationFailed, $"operation failed: cannot turn on IPv4 forwarding ({path}): {e.Message}");
        }
    }

    public static IPAddress Address(string text) => Ipv4Subnet.ParseAddress(text) ?? throw new FormatException(text);
}
