namespace KvmSharp.Manager.DomainXml;

internal static partial class DomainDeviceReader
{
    /// <summary>
    /// &lt;interface type='network'&gt;&lt;source network='NAME'/&gt;: a NIC on one of the daemon's virtual networks, whose
    /// tap the daemon makes at start (formatdomain "Virtual network"). A &lt;target dev='vnetN'/&gt; from a live XML fed
    /// back is ignored, as libvirt ignores its own generated names; any other target is refused.
    /// </summary>
    private static DomainInterface ReadNetworkInterface(ElementReader i)
    {
        var source = i.RequiredChild("source", "name the network with <source network='default'/>");
        string network = source.RequiredAttribute("network");
        if (DomainNames.Problem(network) is { } problem)
            throw DomainXmlError.Xml($"the network name '{DomainXmlError.Quote(network)}' of <source> in <interface> {problem}");
        source.Finish();
        string? mac = null;
        if (i.Child("mac") is { } m)
        {
            mac = m.RequiredAttribute("address");
            m.Finish();
        }
        if (i.Child("target") is { } target)
        {
            string dev = target.RequiredAttribute("dev");
            if (!dev.StartsWith("vnet", StringComparison.Ordinal))
                throw DomainXmlError.Unsupported($"<target dev='{DomainXmlError.Quote(dev)}'> of a network <interface> is not supported: the daemon names its taps");
            target.Finish();
        }
        if (i.Child("model") is { } model)
        {
            XmlValues.Choice(model, "type", null, "virtio");
            model.Finish();
        }
        var (inbound, outbound) = DomainRateLimitXml.ReadBandwidth(i.Child("bandwidth"));
        int? slot = ReadAddress(i.Child("address"));
        i.Finish();
        return new DomainInterface("", mac) { Slot = slot, Network = network, Inbound = inbound, Outbound = outbound };
    }
}
