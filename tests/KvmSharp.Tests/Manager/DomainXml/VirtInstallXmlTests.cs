using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>
/// What virt-install --print-xml writes for a direct kernel boot (--boot kernel=…,initrd=…,kernel_args=… --graphics none):
/// refused as it comes, for its libosinfo metadata first, and accepted once the parts we cannot run are taken out; the
/// harmless parts it writes (features, cpu, clock, pm) stay.
/// </summary>
public class VirtInstallXmlTests
{
    private const string Metadata = """
          <metadata>
            <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
              <libosinfo:os id="http://debian.org/debian/12"/>
            </libosinfo:libosinfo>
          </metadata>

        """;
    private const string Emulator = "    <emulator>/usr/bin/qemu-system-x86_64</emulator>\n";
    private const string Controllers = """
            <controller type="usb" model="qemu-xhci" ports="15"/>
            <controller type="pci" model="pcie-root"/>
            <controller type="pci" model="pcie-root-port"/>

        """;
    private const string Channel = """
            <channel type="unix">
              <source mode="bind"/>
              <target type="virtio" name="org.qemu.guest_agent.0"/>
            </channel>

        """;
    private const string Timers = """
            <timer name="rtc" tickpolicy="catchup"/>
            <timer name="pit" tickpolicy="delay"/>
            <timer name="hpet" present="no"/>

        """;

    private static readonly string Typical = $$"""
        <domain type="kvm">
          <name>deb12</name>
          <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
        {{Metadata}}  <memory>2097152</memory>
          <currentMemory>2097152</currentMemory>
          <vcpu>2</vcpu>
          <os>
            <type arch="x86_64" machine="q35">hvm</type>
            <kernel>/var/lib/kvmsharp/vmlinuz</kernel>
            <initrd>/var/lib/kvmsharp/initrd.img</initrd>
            <cmdline>console=ttyS0 root=/dev/vda1</cmdline>
          </os>
          <features>
            <acpi/>
            <apic/>
            <vmport state="off"/>
          </features>
          <cpu mode="host-passthrough"/>
          <clock offset="utc">
        {{Timers}}  </clock>
          <pm>
            <suspend-to-mem enabled="no"/>
            <suspend-to-disk enabled="no"/>
          </pm>
          <devices>
        {{Emulator}}    <disk type="file" device="disk">
              <driver name="qemu" type="qcow2"/>
              <source file="/var/lib/kvmsharp/deb12.qcow2"/>
              <target dev="vda" bus="virtio"/>
            </disk>
        {{Controllers}}    <interface type="ethernet">
              <mac address="52:54:00:4b:7a:11"/>
              <target dev="tap-deb12"/>
              <model type="virtio"/>
            </interface>
            <console type="pty"/>
        {{Channel}}    <memballoon model="virtio"/>
            <rng model="virtio">
              <backend model="random">/dev/urandom</backend>
            </rng>
          </devices>
        </domain>
        """;

    [Fact]
    public void As_written_it_is_refused_one_part_at_a_time()
    {
        string xml = Typical;
        (string Part, string Mention)[] steps =
        [
            (Metadata, "<metadata> is not supported"),
            (Timers, "<timer> in <clock> is not supported"),
            (Emulator, "<emulator> is not supported"),
            (Controllers, "<controller> is not supported"),
            (Channel, "<channel> is not supported"),
        ];
        foreach (var (part, mention) in steps)
        {
            Refused(xml, ManagerError.ConfigUnsupported, mention);
            Assert.Contains(part, xml, StringComparison.Ordinal);
            xml = xml.Replace(part, "", StringComparison.Ordinal);
        }

        var d = DomainXmlReader.Parse(xml);
        Assert.Equal("deb12", d.Name);
        Assert.Equal(2UL << 20, d.MemoryKib);
        Assert.Equal("q35", d.Os.Machine);
        Assert.Equal(new DomainFeatures(Acpi: true, Apic: true, VmportOff: true), d.Features);
        Assert.Equal(new DomainCpu("host-passthrough"), d.Cpu);
        Assert.True(d.SuspendDisabled && d.HasSerialConsole);
        Assert.Equal("tap-deb12", Assert.Single(d.Interfaces).Tap);
        Assert.NotNull(d.Balloon);
        Assert.NotNull(d.Rng);
        Assert.Equal(d, DomainXmlReader.Parse(DomainXmlWriter.Format(d)));
    }
}
