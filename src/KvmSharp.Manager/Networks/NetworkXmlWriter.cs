using System.Globalization;
using System.Xml.Linq;
using KvmSharp.Manager.DomainXml;

namespace KvmSharp.Manager.Networks;

/// <summary>Writes a network as libvirt's network XML (net-dumpxml), in libvirt's element order; reading it back gives the same definition.</summary>
public static class NetworkXmlWriter
{
    public static string Format(NetworkDefinition d)
    {
        var network = new XElement("network",
            new XElement("name", d.Name),
            new XElement("uuid", d.Uuid.ToString("D")),
            d.Forward == ForwardMode.Nat ? new XElement("forward", new XAttribute("mode", "nat")) : null,
            d.Bridge is null ? null : new XElement("bridge",
                new XAttribute("name", d.Bridge),
                new XAttribute("stp", d.Stp ? "on" : "off"),
                new XAttribute("delay", d.Delay.ToString(CultureInfo.InvariantCulture))),
            d.Mac is null ? null : new XElement("mac", new XAttribute("address", d.Mac)),
            d.Ip is { } ip ? Ip(ip) : null);
        return DomainXmlWriter.Write(network);
    }

    private static XElement Ip(NetworkIp ip)
    {
        var element = new XElement("ip", new XAttribute("address", ip.Address.ToString()),
            ip.WrittenAsNetmask
                ? new XAttribute("netmask", Ipv4Subnet.FromUInt(ip.Subnet.Mask).ToString())
                : new XAttribute("prefix", ip.Prefix.ToString(CultureInfo.InvariantCulture)));
        if (ip.Range is not null || ip.Hosts.Count > 0)
            element.Add(new XElement("dhcp",
                ip.Range is { } range ? new XElement("range", new XAttribute("start", range.Start.ToString()), new XAttribute("end", range.End.ToString())) : null,
                ip.Hosts.Select(h => new XElement("host",
                    h.Mac is null ? null : new XAttribute("mac", h.Mac),
                    h.Name is null ? null : new XAttribute("name", h.Name),
                    new XAttribute("ip", h.Ip.ToString())))));
        return element;
    }
}
