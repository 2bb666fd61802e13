using System.Net;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Manager.DomainXml;
using KvmSharp.Native.Net;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// Reads libvirt's network XML (formatnetwork) as hostile input, through the same <see cref="SafeXml"/> loader and
/// <see cref="ElementReader"/> as domains: no DTD, size and depth caps, and whatever we do not honour (IPv6, &lt;dns&gt;,
/// port ranges, other forward modes) refused by name rather than dropped. The result is normalized (a UUID and a
/// bridge MAC when none is given) and checked: DHCP ranges and fixed hosts inside the subnet, not the host's address.
/// The bridge name, when left out, is the driver's to choose (it knows the others).
/// </summary>
public static class NetworkXmlReader
{
    public static NetworkDefinition Parse(string xml)
    {
        var root = new ElementReader(SafeXml.LoadRoot(xml, "network"));
        root.RefuseOtherChildren("name", "uuid", "forward", "bridge", "mac", "ip");
        // connections='N' is what libvirt's live XML says; ipv6='no' is the default.
        root.Attribute("connections");
        XmlValues.OptionalChoice(root, "ipv6", "no");

        string name = XmlValues.Name(root.RequiredChild("name", "give the network a name"), "network");
        var definition = new NetworkDefinition { Name = name };
        if (root.Child("uuid") is { } uuidElement)
        {
            string text = uuidElement.TrimmedText();
            uuidElement.Finish();
            definition = definition with
            {
                Uuid = Guid.TryParse(text, out var uuid) && text.Length is 32 or 36 ? uuid
                    : throw DomainXmlError.Xml($"<uuid> '{DomainXmlError.Quote(text)}' of the network is not a UUID"),
            };
        }
        if (root.Child("forward") is { } forward) definition = definition with { Forward = ReadForward(forward) };
        if (root.Child("bridge") is { } bridge) definition = ReadBridge(bridge, definition);
        if (root.Child("mac") is { } mac)
        {
            string text = mac.RequiredAttribute("address");
            mac.Finish();
            if (!MacAddress.TryParse(text, out var bytes, out string error))
                throw DomainXmlError.Xml($"<mac address='{DomainXmlError.Quote(text)}'> of the network: {error}");
            if ((bytes[0] & 1) != 0)
                throw DomainXmlError.Xml($"<mac address='{DomainXmlError.Quote(text)}'> of the network is a multicast address");
            definition = definition with { Mac = MacAddress.Format(bytes) };
        }
        if (root.Child("ip") is { } ip) definition = definition with { Ip = ReadIp(ip) };
        root.Finish();
        if (definition.Forward == ForwardMode.Nat && definition.Ip is null)
            throw DomainXmlError.Xml($"network '{DomainXmlError.Quote(name)}' forwards with NAT but has no <ip> to translate from");
        return Normalize(definition);
    }

    /// <summary>A UUID and a bridge MAC (52:54:00 and three random bytes, as libvirt makes them) where none is given.</summary>
    public static NetworkDefinition Normalize(NetworkDefinition d) => d with
    {
        Uuid = d.Uuid == Guid.Empty ? Guid.NewGuid() : d.Uuid,
        Mac = d.Mac ?? MacAddress.Format([0x52, 0x54, 0x00, .. Random.Shared.GetItems(AllBytes, 3)]),
    };

    private static readonly byte[] AllBytes = [.. Enumerable.Range(0, 256).Select(b => (byte)b)];

    private static ForwardMode ReadForward(ElementReader f)
    {
        // <forward/> without a mode is NAT (formatnetwork "Connectivity").
        var mode = XmlValues.Choice(f, "mode", "nat", "nat") == "nat" ? ForwardMode.Nat : ForwardMode.Isolated;
        if (f.Attribute("dev") is { } dev)
            throw DomainXmlError.Unsupported($"<forward dev='{DomainXmlError.Quote(dev)}'> is not supported: NAT goes out of whatever interface routes the packet");
        f.Finish();
        return mode;
    }

    private static NetworkDefinition ReadBridge(ElementReader b, NetworkDefinition d)
    {
        string? name = b.Attribute("name");
        // Stricter than the kernel: the name goes into nft rules and dnsmasq's conf, so letters, digits, '-', '_', '.'.
        if (name is not null && (!TapDevice.IsValidName(name) || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw DomainXmlError.Xml($"the bridge name '{DomainXmlError.Quote(name)}' is not a network interface name (1 to 15 letters, digits, '-', '_' or '.')");
        bool stp = XmlValues.OptionalChoice(b, "stp", "on", "off") != "off";
        uint delay = 0;
        if (b.Attribute("delay") is { } text)
            delay = XmlValues.ParseUnsigned(text) is { } value && value <= 30 ? (uint)value
                : throw DomainXmlError.Xml($"the delay '{DomainXmlError.Quote(text)}' of <bridge> is not a number of seconds from 0 to 30");
        b.Finish();
        return d with { Bridge = name, Stp = stp, Delay = delay };
    }

    private static NetworkIp ReadIp(ElementReader i)
    {
        if (XmlValues.OptionalChoice(i, "family", "ipv4", "ipv6") == "ipv6")
            throw DomainXmlError.Unsupported("<ip family='ipv6'> is not supported: only one IPv4 <ip> per network");
        var address = Address(i, "address");
        string? netmask = i.Attribute("netmask");
        string? prefixText = i.Attribute("prefix");
        int prefix;
        if (netmask is not null && prefixText is not null)
            throw DomainXmlError.Xml("<ip> gives both netmask and prefix; give one");
        if (netmask is not null)
            prefix = Ipv4Subnet.ParseAddress(netmask) is { } mask && Ipv4Subnet.PrefixOfNetmask(mask) is { } p ? p
                : throw DomainXmlError.Xml($"the netmask '{DomainXmlError.Quote(netmask)}' of <ip> is not a netmask");
        else if (prefixText is not null)
            prefix = XmlValues.ParseUnsigned(prefixText) is { } p && p <= 32 ? (int)p
                : throw DomainXmlError.Xml($"the prefix '{DomainXmlError.Quote(prefixText)}' of <ip> is not a number from 0 to 32");
        else
            throw DomainXmlError.Xml("<ip> needs a netmask or a prefix");
        if (prefix is < 8 or > 30)
            throw DomainXmlError.Unsupported($"prefix {prefix} of <ip> is not supported: a network from /8 to /30");
        var ip = new NetworkIp(address, prefix, netmask is not null);
        var subnet = ip.Subnet;
        uint host = Ipv4Subnet.ToUInt(address);
        if (host == subnet.Network || host == subnet.Broadcast)
            throw DomainXmlError.Xml($"<ip address='{address}'> is the network's own or its broadcast address, not a host's");

        if (i.Child("dhcp") is { } dhcp)
        {
            dhcp.RefuseOtherChildren("range", "host");
            var range = dhcp.Child("range") is { } r ? ReadRange(r, ip) : null;
            var hosts = new List<DhcpHost>();
            foreach (var child in dhcp.ChildElements.Where(c => c.Name.LocalName == "host"))
                hosts.Add(ReadHost(dhcp.Take(child), ip, hosts));
            dhcp.Finish();
            ip = ip with { Range = range, Hosts = [.. hosts] };
        }
        i.Finish();
        return ip;
    }

    private static DhcpRange ReadRange(ElementReader r, NetworkIp ip)
    {
        var start = InSubnet(r, "start", ip);
        var end = InSubnet(r, "end", ip);
        r.Finish();
        uint first = Ipv4Subnet.ToUInt(start), last = Ipv4Subnet.ToUInt(end), host = Ipv4Subnet.ToUInt(ip.Address);
        if (first > last) throw DomainXmlError.Xml($"the DHCP <range> starts at {start}, after its end {end}");
        if (host >= first && host <= last)
            throw DomainXmlError.Xml($"the DHCP <range> {start}–{end} holds the host's own address {ip.Address}");
        return new DhcpRange(start, end);
    }

    private static DhcpHost ReadHost(ElementReader h, NetworkIp ip, List<DhcpHost> before)
    {
        string? mac = null;
        if (h.Attribute("mac") is { } text)
        {
            if (!MacAddress.TryParse(text, out var bytes, out string error))
                throw DomainXmlError.Xml($"<host mac='{DomainXmlError.Quote(text)}'> in <dhcp>: {error}");
            mac = MacAddress.Format(bytes);
        }
        string? name = h.Attribute("name");
        if (name is not null && (name.Length is 0 or > 63 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.') || name[0] is '-' or '.'))
            throw DomainXmlError.Xml($"<host name='{DomainXmlError.Quote(name)}'> in <dhcp> is not a host name (letters, digits, '-' and '.')");
        if (mac is null && name is null) throw DomainXmlError.Xml("<host> in <dhcp> needs a mac or a name");
        var address = InSubnet(h, "ip", ip);
        h.Finish();
        if (address.Equals(ip.Address)) throw DomainXmlError.Xml($"<host ip='{address}'> in <dhcp> is the host's own address");
        if (before.Any(b => b.Ip.Equals(address)) || (mac is not null && before.Any(b => b.Mac == mac)))
            throw DomainXmlError.Xml($"<host> in <dhcp> repeats the address {address} or the MAC {mac}");
        return new DhcpHost(mac, address, name);
    }

    private static IPAddress InSubnet(ElementReader e, string attribute, NetworkIp ip)
    {
        var address = Address(e, attribute);
        var subnet = ip.Subnet;
        uint value = Ipv4Subnet.ToUInt(address);
        if (!subnet.Contains(address) || value == subnet.Network || value == subnet.Broadcast)
            throw DomainXmlError.Xml($"the {attribute} '{address}' of {e.Describe} is not a host address of {subnet}");
        return address;
    }

    private static IPAddress Address(ElementReader e, string attribute)
    {
        string text = e.RequiredAttribute(attribute);
        return Ipv4Subnet.ParseAddress(text)
               ?? throw DomainXmlError.Xml($"the {attribute} '{DomainXmlError.Quote(text)}' of {e.Describe} is not an IPv4 address");
    }
}
