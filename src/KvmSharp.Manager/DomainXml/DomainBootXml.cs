using System.Xml.Linq;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// Boot order in domain XML (formatdomain "BIOS bootloader" and "Specifying boot order"): either &lt;os&gt;&lt;boot
/// dev=…/&gt; elements, or a &lt;boot order='N'/&gt; inside devices, never both (libvirt refuses the mix with the message
/// used here). libvirt's qemu driver turns &lt;boot dev='hd'/&gt; into bootindex N on the first disk, N being that
/// element's place among the &lt;boot&gt;s, and always runs QEMU with <c>-boot strict=on</c>; the daemon does the same
/// (<see cref="DomainDefinition.BuildMachineConfig"/>). Only disks boot here: a CD-ROM, a floppy and the network have no
/// device or no firmware support, and each is refused by name.
/// </summary>
internal static class DomainBootXml
{
    /// <summary>libvirt's own words (virDomainDefBootOrderPostParse), so tools that look for them find them.</summary>
    public const string MixedStyles = "per-device boot elements cannot be used together with os/boot elements";

    /// <summary>One &lt;os&gt;&lt;boot dev=…/&gt;: 'hd' is read; the other devices libvirt knows are refused with the reason.</summary>
    public static void ReadOsBoot(ElementReader boot)
    {
        string dev = boot.Attribute("dev") ?? throw DomainXmlError.Xml("missing boot device: give <boot dev='hd'/>");
        string? refusal = dev switch
        {
            "hd" => null,
            "cdrom" => "KvmSharp has no CD-ROM drive (<disk device='cdrom'>); boot an image as a disk instead",
            "fd" => "KvmSharp has no floppy drive",
            "network" => Machine.Config.BootOrderRules.NoNetworkBoot,
            _ => throw DomainXmlError.Xml($"unknown boot device '{DomainXmlError.Quote(dev)}' in <os> (libvirt knows hd, cdrom, fd, network)"),
        };
        if (refusal is not null) throw DomainXmlError.Unsupported($"<boot dev='{dev}'/> is not supported: {refusal}");
        boot.Finish();
    }

    /// <summary>A device's &lt;boot order='N'/&gt;: a positive decimal number, as libvirt requires.</summary>
    public static int? ReadOrder(ElementReader? boot, string device)
    {
        if (boot is null) return null;
        string text = boot.Attribute("order") ?? throw DomainXmlError.Xml($"missing boot order attribute in <boot> of {device}");
        if (XmlValues.ParseUnsigned(text) is not { } order || order == 0 || order > int.MaxValue)
            throw DomainXmlError.Xml($"incorrect boot order '{DomainXmlError.Quote(text)}' of {device}, expecting positive integer");
        boot.Finish();
        return (int)order;
    }

    /// <summary>
    /// The rules libvirt checks once the whole domain is read: no order given twice, no mix of the two styles, and
    /// (ours) per-device orders only where firmware boots: a kernel given in &lt;os&gt; is loaded directly.
    /// </summary>
    public static void Check(DomainDefinition d, bool osBootGiven)
    {
        var seen = new HashSet<int>();
        foreach (var disk in d.Disks)
            if (disk.BootOrder is { } order && !seen.Add(order))
                throw DomainXmlError.Unsupported($"boot order '{order}' used for more than one device");
        if (seen.Count == 0) return;
        if (osBootGiven) throw DomainXmlError.Unsupported(MixedStyles);
        if (d.Os.Kernel is not null)
            throw DomainXmlError.Unsupported("<boot order> of a <disk> needs firmware: with a <kernel> in <os> KvmSharp loads the kernel directly and boots from no disk");
    }

    public static XElement? WriteOrder(int? order) => order is { } o ? new XElement("boot", new XAttribute("order", o)) : null;

    /// <summary>The &lt;boot&gt; element of an &lt;interface&gt;, refused before the interface is read.</summary>
    public static void RefuseOnInterface(XElement nic)
    {
        if (nic.Element("boot") is not null)
            throw DomainXmlError.Unsupported($"<boot order> of an <interface> is not supported: {Machine.Config.BootOrderRules.NoNetworkBoot}");
    }
}
