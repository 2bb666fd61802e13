using System.Text.RegularExpressions;
using System.Xml.Linq;
using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.DomainXml;

/// <summary>Reads &lt;devices&gt;: virtio disks, NICs on taps, one pty serial console, rng, memballoon, vsock. Anything else is refused by name.</summary>
internal static partial class DomainDeviceReader
{
    public static DomainDefinition Read(ElementReader devices, DomainDefinition definition)
    {
        var disks = new List<DomainDisk>();
        var interfaces = new List<DomainInterface>();
        bool serial = false, console = false;
        DomainRng? rng = null;
        DomainBalloon? balloon = null;
        bool balloonGiven = false;
        DomainVsock? vsock = null;
        var filesystems = new List<DomainFilesystem>();
        foreach (var child in devices.ChildElements)
        {
            string name = child.Name.Namespace == XNamespace.None ? child.Name.LocalName : "";
            switch (name)
            {
                case "disk":
                    disks.Add(ReadDisk(devices.Take(child)));
                    break;
                case "interface":
                    DomainBootXml.RefuseOnInterface(child);
                    interfaces.Add(ReadInterface(devices.Take(child)));
                    break;
                case "serial":
                    Once(ref serial, child, "KvmSharp has one serial port");
                    ReadSerial(devices.Take(child));
                    break;
                case "console":
                    Once(ref console, child, "the console is the one serial port");
                    ReadConsole(devices.Take(child));
                    break;
                case "rng":
                    if (rng is not null) throw Second(child, "one entropy device is enough");
                    rng = ReadRng(devices.Take(child));
                    break;
                case "memballoon":
                    Once(ref balloonGiven, child, "a domain has one balloon");
                    balloon = ReadBalloon(devices.Take(child));
                    break;
                case "vsock":
                    if (vsock is not null) throw Second(child, "a domain has one vsock device");
                    vsock = ReadVsock(devices.Take(child));
                    break;
                case "filesystem":
                    filesystems.Add(ReadFilesystem(devices.Take(child)));
                    break;
                default:
                    throw DomainXmlError.Unsupported($"{ElementReader.DescribeElement(child)} is not supported");
            }
            // Bounded before anything is built from a long list: bus 0 has 31 slots for devices.
            if (disks.Count + interfaces.Count + filesystems.Count > MaxPciDevices)
                throw DomainXmlError.Xml($"<devices> has more disks and interfaces than the {MaxPciDevices} PCI slots that hold them");
        }
        devices.Finish();
        return definition with
        {
            Disks = [.. disks],
            Interfaces = [.. interfaces],
            HasSerialConsole = serial || console,
            Rng = rng,
            Balloon = balloon,
            Vsock = vsock,
            Filesystems = [.. filesystems],
        };
    }

    /// <summary>Slots 1 to 31 of PCI bus 0 (slot 0 is the host bridge's).</summary>
    private const int MaxPciDevices = 31;

    private static void Once(ref bool seen, XElement element, string why)
    {
        if (seen) throw Second(element, why);
        seen = true;
    }

    private static Exception Second(XElement element, string why) =>
        DomainXmlError.Unsupported($"a second {ElementReader.Show(element)} is not supported: {why}");

    private static DomainDisk ReadDisk(ElementReader d)
    {
        bool volume = XmlValues.Choice(d, "type", "file", "file", "volume") == "volume";
        XmlValues.Choice(d, "device", "disk", "disk");

        // The format is never probed: a raw image whose guest wrote a qcow2 header would be opened as qcow2 and
        // could name any host file as its backing file (the reason libvirt stopped probing). A volume's format is the
        // one its pool recorded, so there <driver type> may be left out.
        var driver = volume ? d.Child("driver") : d.RequiredChild("driver", "state the image format with <driver name='qemu' type='raw'/> or type='qcow2'");
        var format = DiskFormat.Raw;
        bool formatGiven = false;
        if (driver is not null)
        {
            XmlValues.Choice(driver, "name", "qemu", "qemu");
            string? type = volume ? XmlValues.OptionalChoice(driver, "type", "raw", "qcow2") : XmlValues.Choice(driver, "type", null, "raw", "qcow2");
            formatGiven = type is not null;
            format = type == "qcow2" ? DiskFormat.Qcow2 : DiskFormat.Raw;
            driver.Finish();
        }

        string file;
        DiskVolume? diskVolume = null;
        if (volume)
        {
            var source = d.RequiredChild("source", "name the volume with <source pool='POOL' volume='NAME'/>");
            string pool = source.RequiredAttribute("pool");
            string name = source.RequiredAttribute("volume");
            source.Finish();
            foreach (var (what, value) in (ReadOnlySpan<(string, string)>)[("pool", pool), ("volume", name)])
                if (Storage.StorageNames.Problem(value) is { } problem)
                    throw DomainXmlError.Xml($"the {what} '{DomainXmlError.Quote(value)}' of <source> in <disk> {problem}");
            diskVolume = new DiskVolume(pool, name, formatGiven);
            file = diskVolume.Placeholder;
        }
        else
        {
            var source = d.RequiredChild("source", "name the image with <source file='…'/>");
            file = XmlValues.AbsolutePath(source.RequiredAttribute("file"), "the file of <source> in <disk>");
            source.Finish();
        }

        var target = d.RequiredChild("target", "give it a name with <target dev='vda' bus='virtio'/>");
        string dev = target.RequiredAttribute("dev");
        if (!DiskTarget().IsMatch(dev))
            throw DomainXmlError.Unsupported($"target dev='{DomainXmlError.Quote(dev)}' of <disk> is not supported: virtio disks are named vda, vdb, …");
        XmlValues.Choice(target, "bus", "virtio", "virtio");
        target.Finish();

        bool readOnly = false;
        if (d.Child("readonly") is { } ro)
        {
            ro.Finish();
            readOnly = true;
        }
        string? serial = null;
        if (d.Child("serial") is { } s)
        {
            serial = s.Text();
            s.Finish();
            // libvirt's schema and its qemu driver allow these only (domaincommon.rng "diskSerial"); we say so here
            // rather than let a serial through that libvirt's tools would call invalid. The length is Validate's.
            if (serial.Length == 0 || !serial.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '.' or '+' or '-' or ' '))
                throw DomainXmlError.Xml($"<serial> '{DomainXmlError.Quote(serial)}' of disk {dev} must be letters, digits, spaces and _ . + - (at least one)");
        }
        var iotune = DomainRateLimitXml.ReadIoTune(d.Child("iotune"), dev);
        int? bootOrder = DomainBootXml.ReadOrder(d.Child("boot"), $"<disk> {dev}");
        int? slot = ReadAddress(d.Child("address"));
        d.Finish();
        return new DomainDisk(dev, file, format, readOnly, serial) { Slot = slot, IoTune = iotune, Volume = diskVolume, BootOrder = bootOrder };
    }

    /// <summary>vd plus 1 to 3 letters: vda … vdzzz, more disks than a PCI bus holds.</summary>
    [GeneratedRegex("^vd[a-z]{1,3}$", RegexOptions.CultureInvariant)]
    private static partial Regex DiskTarget();

    private static DomainInterface ReadInterface(ElementReader i)
    {
        string type = i.RequiredAttribute("type");
        if (type == "network") return ReadNetworkInterface(i);
        if (type == UserInterfaceXml.Type) return ReadUserInterface(i);
        if (type != "ethernet")
            throw DomainXmlError.Unsupported(
                $"<interface type='{DomainXmlError.Quote(type)}'> is not supported yet: use type='ethernet' with <target dev='TAP'/> on an existing tap device, or type='user'");
        string? mac = null;
        if (i.Child("mac") is { } m)
        {
            mac = m.RequiredAttribute("address");
            m.Finish();
        }
        var target = i.RequiredChild("target", "name the tap device with <target dev='tap0'/>");
        string tap = target.RequiredAttribute("dev");
        // managed='no': the tap exists already; we never create one (libvirt's default would).
        XmlValues.OptionalChoice(target, "managed", "no");
        target.Finish();
        if (i.Child("model") is { } model)
        {
            XmlValues.Choice(model, "type", null, "virtio");
            model.Finish();
        }
        var (inbound, outbound) = DomainRateLimitXml.ReadBandwidth(i.Child("bandwidth"));
        int? slot = ReadAddress(i.Child("address"));
        i.Finish();
        return new DomainInterface(tap, mac) { Slot = slot, Inbound = inbound, Outbound = outbound };
    }

    /// <summary>&lt;interface type='user'&gt;: user networking through passt (<see cref="UserInterfaceXml"/>).</summary>
    private static DomainInterface ReadUserInterface(ElementReader i)
    {
        string? mac = null;
        if (i.Child("mac") is { } m)
        {
            mac = m.RequiredAttribute("address");
            m.Finish();
        }
        var forwards = UserInterfaceXml.ReadForwards(i);
        if (i.Child("model") is { } model)
        {
            XmlValues.Choice(model, "type", null, "virtio");
            model.Finish();
        }
        int? slot = ReadAddress(i.Child("address"));
        i.Finish();
        return new DomainInterface("", mac) { Slot = slot, Backend = NetBackendKind.User, PortForwards = forwards };
    }

    private static void ReadSerial(ElementReader s)
    {
        XmlValues.Choice(s, "type", null, "pty");
        if (s.Child("target") is { } target)
        {
            XmlValues.OptionalChoice(target, "type", "isa-serial");
            XmlValues.OptionalChoice(target, "port", "0");
            if (target.Child("model") is { } model)
            {
                XmlValues.Choice(model, "name", null, "isa-serial");
                model.Finish();
            }
            target.Finish();
        }
        s.Finish();
    }

    private static void ReadConsole(ElementReader c)
    {
        XmlValues.Choice(c, "type", null, "pty");
        if (c.Child("target") is { } target)
        {
            XmlValues.OptionalChoice(target, "type", "serial");
            XmlValues.OptionalChoice(target, "port", "0");
            target.Finish();
        }
        c.Finish();
    }

    private static DomainRng ReadRng(ElementReader r)
    {
        XmlValues.Choice(r, "model", null, "virtio");
        var backend = r.RequiredChild("backend", "give <backend model='random'>/dev/urandom</backend>");
        XmlValues.Choice(backend, "model", null, "random");
        // Our device reads getrandom(2), which is /dev/urandom's pool; libvirt's default file is /dev/urandom.
        string source = backend.TrimmedText();
        if (source is not ("" or "/dev/urandom" or "/dev/random"))
            throw DomainXmlError.Unsupported($"the random source '{DomainXmlError.Quote(source)}' of <backend> in <rng> is not supported (only /dev/urandom)");
        backend.Finish();
        int? slot = ReadAddress(r.Child("address"));
        r.Finish();
        return new DomainRng { Slot = slot };
    }

    private static DomainBalloon? ReadBalloon(ElementReader b)
    {
        if (XmlValues.Choice(b, "model", null, "virtio", "none") == "none")
        {
            b.Finish();
            return null;
        }
        bool autoDeflate = XmlValues.OptionalChoice(b, "autodeflate", "on", "off") == "on";
        uint period = 0;
        if (b.Child("stats") is { } stats)
        {
            string text = stats.RequiredAttribute("period");
            period = XmlValues.ParseUnsigned(text) is { } p && p <= int.MaxValue ? (uint)p
                : throw DomainXmlError.Xml($"the period '{DomainXmlError.Quote(text)}' of <stats> in <memballoon> is not a number of seconds");
            stats.Finish();
        }
        int? slot = ReadAddress(b.Child("address"));
        b.Finish();
        return new DomainBalloon(autoDeflate, period) { Slot = slot };
    }

    private static DomainVsock ReadVsock(ElementReader v)
    {
        XmlValues.Choice(v, "model", "virtio", "virtio");
        var cid = v.RequiredChild("cid", "give the guest's CID with <cid auto='no' address='3'/>");
        if (XmlValues.OptionalChoice(cid, "auto", "no", "yes") == "yes")
            throw DomainXmlError.Unsupported("<cid auto='yes'> in <vsock> is not supported: give the CID with auto='no' address='N'");
        string text = cid.RequiredAttribute("address");
        uint address = XmlValues.ParseUnsigned(text) is { } a && a <= uint.MaxValue ? (uint)a
            : throw DomainXmlError.Xml($"the address '{DomainXmlError.Quote(text)}' of <cid> in <vsock> is not a 32-bit number");
        cid.Finish();
        int? slot = ReadAddress(v.Child("address"));
        v.Finish();
        return new DomainVsock(address) { Slot = slot };
    }

    /// <summary>&lt;address type='pci' domain='0x0000' bus='0x00' slot='0x05' function='0x0'/&gt;: the slot, when on domain 0, bus 0, function 0.</summary>
    private static int? ReadAddress(ElementReader? a)
    {
        if (a is null) return null;
        XmlValues.Choice(a, "type", null, "pci");
        uint domain = XmlValues.PciNumber(a, "domain", 0xFFFF);
        uint bus = XmlValues.PciNumber(a, "bus", 0xFF);
        uint slot = XmlValues.PciNumber(a, "slot", 0x1F);
        uint function = XmlValues.PciNumber(a, "function", 7);
        XmlValues.OptionalChoice(a, "multifunction", "off");
        if (domain != 0 || bus != 0)
            throw DomainXmlError.Unsupported($"{a.Describe} on PCI domain {domain}, bus {bus} is not supported: every device is on domain 0, bus 0");
        if (function != 0)
            throw DomainXmlError.Unsupported($"{a.Describe} with function {function} is not supported: each device is function 0 of its slot");
        a.Finish();
        return (int)slot;
    }
}
