using System.Globalization;
using System.Xml.Linq;
using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// libvirt's user networking through passt (formatdomain, "Userspace connection using passt"):
/// <c>&lt;interface type='user'&gt;&lt;backend type='passt'/&gt;&lt;mac/&gt;&lt;portForward proto='tcp' address='…'&gt;&lt;range start='2222' to='22'/&gt;&lt;/portForward&gt;…</c>.
/// One port per range (start, and to for a different guest port); ranges with end, exclude, and dev are refused by
/// name, not dropped. We have no SLIRP, so a missing &lt;backend&gt; means passt too, and is written back as passt.
/// </summary>
internal static class UserInterfaceXml
{
    public const string Type = "user";

    /// <summary>Reads the parts of a type='user' interface after its type: backend and port forwards (the caller reads mac, model and address).</summary>
    public static ValueList<PortForward>? ReadForwards(ElementReader i)
    {
        if (i.Child("backend") is { } backend)
        {
            XmlValues.Choice(backend, "type", "passt", "passt");
            backend.Finish();
        }
        var forwards = new List<PortForward>();
        foreach (var element in i.ChildElements.Where(e => e.Name == "portForward").ToArray())
        {
            var portForward = i.Take(element);
            var protocol = XmlValues.Choice(portForward, "proto", null, "tcp", "udp") == "udp" ? ForwardProtocol.Udp : ForwardProtocol.Tcp;
            string? address = portForward.Attribute("address");
            if (address is not null && !NetForwardRules.IsAddress(address))
                throw DomainXmlError.Xml($"{portForward.Describe}: address '{DomainXmlError.Quote(address)}' is not an IPv4 or IPv6 address");
            foreach (var rangeElement in portForward.ChildElements.Where(e => e.Name == "range").ToArray())
            {
                var range = portForward.Take(rangeElement);
                int start = Port(range, "start") ?? throw DomainXmlError.Xml($"{range.Describe} needs the attribute 'start'");
                int to = Port(range, "to") ?? start;
                range.Finish();   // end= and exclude= (port ranges) are refused here, by name
                forwards.Add(new PortForward(protocol, start, to, address));
            }
            portForward.Finish();
        }
        return forwards.Count > 0 ? [.. forwards] : null;
    }

    /// <summary>The elements that follow &lt;mac&gt; in a type='user' interface: the backend, then each forward as a portForward of one range.</summary>
    public static IEnumerable<XElement> WriteForwards(ValueList<PortForward>? forwards)
    {
        yield return new XElement("backend", new XAttribute("type", "passt"));
        foreach (var forward in forwards ?? [])
            yield return new XElement("portForward",
                new XAttribute("proto", forward.Protocol == ForwardProtocol.Udp ? "udp" : "tcp"),
                forward.HostAddress is null ? null : new XAttribute("address", forward.HostAddress),
                new XElement("range", new XAttribute("start", forward.HostPort), new XAttribute("to", forward.GuestPort)));
    }

    private static int? Port(ElementReader e, string attribute)
    {
        if (e.Attribute(attribute) is not { } text) return null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
            throw DomainXmlError.Xml($"{e.Describe}: {attribute}='{DomainXmlError.Quote(text)}' is not a port (1-65535)");
        return port;
    }
}
