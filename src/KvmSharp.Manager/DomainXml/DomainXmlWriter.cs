using System.Globalization;
using System.Text;
using System.Xml;
using System.Xml.Linq;
using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// Writes a <see cref="DomainDefinition"/> as the XML <c>virsh dumpxml</c> prints: every default spelled out (UUID,
/// KiB units, PCI addresses, MACs), in libvirt's element order, so that <c>virsh domblklist</c> and
/// <c>domiflist</c> find &lt;target dev&gt;, &lt;source file&gt; and &lt;mac address&gt; where they look.
/// <see cref="DomainXmlReader.Parse"/> of the output gives the same definition back.
/// </summary>
public static class DomainXmlWriter
{
    /// <summary>The domain's XML; <paramref name="id"/> is the running domain's id (libvirt writes it only while running).</summary>
    public static string Format(DomainDefinition d, int? id = null) => Write(ToElement(d, id));

    internal static string Write(XElement root)
    {
        var settings = new XmlWriterSettings
        {
            Indent = true,
            IndentChars = "  ",
            NewLineChars = "\n",
            OmitXmlDeclaration = true,
            // A carriage return in a description survives the round trip as &#xD; (a reader folds a bare one into \n).
            NewLineHandling = NewLineHandling.Entitize,
            Encoding = new UTF8Encoding(false),
        };
        var text = new StringBuilder();
        using (var writer = XmlWriter.Create(text, settings)) root.WriteTo(writer);
        return text.Append('\n').ToString();
    }

    internal static XElement ToElement(DomainDefinition d, int? id = null)
    {
        var domain = new XElement("domain", new XAttribute("type", d.Type == DomainType.Qemu ? "qemu" : "kvm"));
        if (id is { } running) domain.Add(new XAttribute("id", running.ToString(CultureInfo.InvariantCulture)));
        domain.Add(
            new XElement("name", d.Name),
            new XElement("uuid", d.Uuid.ToString("D")),
            d.Title is null ? null : new XElement("title", d.Title),
            d.Description is null ? null : new XElement("description", d.Description),
            new XElement("memory", new XAttribute("unit", "KiB"), Number(d.MemoryKib)),
            new XElement("currentMemory", new XAttribute("unit", "KiB"), Number(d.CurrentMemoryKib)),
            DomainTuningXml.MemoryTune(d.MemoryTune),
            new XElement("vcpu", new XAttribute("placement", "static"), Number((ulong)d.VcpuCount)),
            DomainTuningXml.CpuTune(d.CpuTune),
            Os(d.Os),
            Features(d.Features),
            d.Cpu is null ? null : new XElement("cpu",
                new XAttribute("mode", d.Cpu.Mode),
                d.Cpu.Check is null ? null : new XAttribute("check", d.Cpu.Check),
                d.Cpu.Migratable is null ? null : new XAttribute("migratable", d.Cpu.Migratable.Value ? "on" : "off")),
            new XElement("clock", new XAttribute("offset", "utc")),
            new XElement("on_poweroff", Action(d.OnPoweroff)),
            new XElement("on_reboot", Action(d.OnReboot)),
            new XElement("on_crash", Action(d.OnCrash)),
            d.SuspendDisabled
                ? new XElement("pm",
                    new XElement("suspend-to-mem", new XAttribute("enabled", "no")),
                    new XElement("suspend-to-disk", new XAttribute("enabled", "no")))
                : null,
            Devices(d));
        return domain;
    }

    private static string Number(ulong value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Action(LifecycleAction action) => action switch
    {
        LifecycleAction.Restart => "restart",
        LifecycleAction.Preserve => "preserve",
        _ => "destroy",
    };

    // UEFI is written as it was read: firmware='efi' when no loader was named, so that the definition reads back the same.
    private static XElement Os(DomainOs os) => new("os",
        os.Uefi && os.Loader is null ? new XAttribute("firmware", "efi") : null,
        new XElement("type", new XAttribute("arch", "x86_64"), new XAttribute("machine", os.Machine), "hvm"),
        os.Loader is null ? null : new XElement("loader", new XAttribute("readonly", "yes"), new XAttribute("type", os.Uefi ? "pflash" : "rom"), os.Loader),
        os.Uefi && os.Nvram is not null
            ? new XElement("nvram", os.NvramTemplate is null ? null : new XAttribute("template", os.NvramTemplate), os.Nvram)
            : null,
        os.Kernel is null ? null : new XElement("kernel", os.Kernel),
        os.Initrd is null ? null : new XElement("initrd", os.Initrd),
        os.Cmdline is null ? null : new XElement("cmdline", os.Cmdline),
        os.BootsDisk ? new XElement("boot", new XAttribute("dev", "hd")) : null);

    private static XElement? Features(DomainFeatures f) => f == DomainFeatures.None ? null : new XElement("features",
        f.Acpi ? new XElement("acpi") : null,
        f.Apic ? new XElement("apic") : null,
        f.Pae ? new XElement("pae") : null,
        f.VmportOff ? new XElement("vmport", new XAttribute("state", "off")) : null);

    private static XElement Devices(DomainDefinition d)
    {
        var devices = new XElement("devices");
        foreach (var disk in d.Disks)
            devices.Add(new XElement("disk", new XAttribute("type", disk.Volume is null ? "file" : "volume"), new XAttribute("device", "disk"),
                new XElement("driver", new XAttribute("name", "qemu"),
                    disk.Volume is { FormatGiven: false } ? null : new XAttribute("type", disk.Format == DiskFormat.Qcow2 ? "qcow2" : "raw")),
                disk.Volume is { } v
                    ? new XElement("source", new XAttribute("pool", v.Pool), new XAttribute("volume", v.Volume))
                    : new XElement("source", new XAttribute("file", disk.Source)),
                new XElement("target", new XAttribute("dev", disk.Target), new XAttribute("bus", "virtio")),
                disk.ReadOnly ? new XElement("readonly") : null,
                disk.Serial is null ? null : new XElement("serial", disk.Serial),
                DomainRateLimitXml.WriteIoTune(disk.IoTune),
                DomainBootXml.WriteOrder(disk.BootOrder),
                Address(disk.Slot)));
        foreach (var fs in d.Filesystems)
            devices.Add(new XElement("filesystem", new XAttribute("type", "mount"), new XAttribute("accessmode", "passthrough"),
                new XElement("driver", new XAttribute("type", "virtiofs")),
                new XElement("source", new XAttribute("dir", fs.Source)),
                new XElement("target", new XAttribute("dir", fs.Target)),
                fs.ReadOnly ? new XElement("readonly") : null,
                Address(fs.Slot)));
        foreach (var nic in d.Interfaces)
            devices.Add(nic.Network is { } network ? new XElement("interface", new XAttribute("type", "network"),
                nic.Mac is null ? null : new XElement("mac", new XAttribute("address", nic.Mac)),
                new XElement("source", new XAttribute("network", network)),
                nic.Tap.Length == 0 ? null : new XElement("target", new XAttribute("dev", nic.Tap)),
                new XElement("model", new XAttribute("type", "virtio")),
                DomainRateLimitXml.WriteBandwidth(nic.Inbound, nic.Outbound),
                Address(nic.Slot)) : new XElement("interface", new XAttribute("type", nic.Backend == NetBackendKind.User ? UserInterfaceXml.Type : "ethernet"),
                nic.Mac is null ? null : new XElement("mac", new XAttribute("address", nic.Mac)),
                nic.Backend == NetBackendKind.User
                    ? (object)UserInterfaceXml.WriteForwards(nic.PortForwards)
                    : new XElement("target", new XAttribute("dev", nic.Tap), new XAttribute("managed", "no")),
                new XElement("model", new XAttribute("type", "virtio")),
                DomainRateLimitXml.WriteBandwidth(nic.Inbound, nic.Outbound),
                Address(nic.Slot)));
        if (d.HasSerialConsole)
        {
            devices.Add(new XElement("serial", new XAttribute("type", "pty"),
                new XElement("target", new XAttribute("type", "isa-serial"), new XAttribute("port", "0"),
                    new XElement("model", new XAttribute("name", "isa-serial")))));
            devices.Add(new XElement("console", new XAttribute("type", "pty"),
                new XElement("target", new XAttribute("type", "serial"), new XAttribute("port", "0"))));
        }
        devices.Add(d.Balloon is { } balloon
            ? new XElement("memballoon", new XAttribute("model", "virtio"),
                balloon.AutoDeflate ? new XAttribute("autodeflate", "on") : null,
                balloon.StatsPeriodS == 0 ? null : new XElement("stats", new XAttribute("period", Number(balloon.StatsPeriodS))),
                Address(balloon.Slot))
            : new XElement("memballoon", new XAttribute("model", "none")));
        if (d.Rng is { } rng)
            devices.Add(new XElement("rng", new XAttribute("model", "virtio"),
                new XElement("backend", new XAttribute("model", "random"), "/dev/urandom"),
                Address(rng.Slot)));
        if (d.Vsock is { } vsock)
            devices.Add(new XElement("vsock", new XAttribute("model", "virtio"),
                new XElement("cid", new XAttribute("auto", "no"), new XAttribute("address", Number(vsock.Cid))),
                Address(vsock.Slot)));
        return devices;
    }

    private static XElement? Address(int? slot) => slot is not { } s ? null : new XElement("address",
        new XAttribute("type", "pci"),
        new XAttribute("domain", "0x0000"),
        new XAttribute("bus", "0x00"),
        new XAttribute("slot", $"0x{s:x2}"),
        new XAttribute("function", "0x0"));
}
