using System.Xml.Linq;

namespace KvmSharp.Manager.Rpc;

/// <summary>
/// CONNECT_GET_CAPABILITIES's XML (libvirt's docs/formatcaps.rst, schema docs/schemas/capability.rng): the host's
/// UUID and CPU architecture, and one guest, hvm on this architecture, for domain types kvm and qemu, which is what
/// our domain XML accepts (a custom domain type fails libvirt's domain schema).
/// </summary>
internal static class HostCapabilities
{
    public static string Build(HostInfo host)
    {
        string arch = host.Model;
        var caps = new XElement("capabilities",
            new XElement("host",
                new XElement("uuid", host.Uuid.ToString("D")),
                new XElement("cpu",
                    new XElement("arch", arch),
                    new XElement("topology",
                        new XAttribute("sockets", host.Sockets), new XAttribute("dies", 1), new XAttribute("cores", host.Cores),
                        new XAttribute("threads", host.Threads))),
                new XElement("power_management"),
                new XElement("iommu", new XAttribute("support", "no"))),
            new XElement("guest",
                new XElement("os_type", "hvm"),
                new XElement("arch", new XAttribute("name", arch),
                    new XElement("wordsize", 64),
                    new XElement("emulator", Environment.ProcessPath ?? "/usr/bin/kvmsharp"),
                    new XElement("domain", new XAttribute("type", "kvm")),
                    new XElement("domain", new XAttribute("type", "qemu"))),
                new XElement("features",
                    new XElement("acpi", new XAttribute("default", "on"), new XAttribute("toggle", "yes")),
                    new XElement("apic", new XAttribute("default", "on"), new XAttribute("toggle", "no")))));
        return caps.ToString() + "\n";
    }
}
