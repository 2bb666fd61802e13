using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>Domain XML for the tests, and the check that a refusal is one line with the right error and the right words.</summary>
internal static class DomainXmlSamples
{
    /// <summary>The direct-kernel-boot example of /work/shared/docs/libvirt-protocol.md §6, verbatim (its NIC is on a bridge).</summary>
    public const string DocExample = """
        <domain type='kvm'>
          <name>dkb</name>
          <uuid>0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c</uuid>        <!-- optional; server generates one -->
          <memory unit='MiB'>512</memory>
          <vcpu>2</vcpu>
          <os>
            <type arch='x86_64' machine='pc'>hvm</type>
            <kernel>/var/lib/kvmsharp/vmlinuz</kernel>                <!-- absolute path (absFilePath) -->
            <initrd>/var/lib/kvmsharp/initrd.img</initrd>             <!-- optional -->
            <cmdline>console=ttyS0 root=/dev/vda rw</cmdline>         <!-- optional; <dtb> also allowed -->
          </os>
          <on_poweroff>destroy</on_poweroff><on_reboot>restart</on_reboot><on_crash>destroy</on_crash>
          <devices>
            <disk type='file' device='disk'>
              <driver name='qemu' type='raw'/>
              <source file='/var/lib/kvmsharp/dkb.img'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <interface type='bridge'>
              <mac address='52:54:00:aa:bb:cc'/><source bridge='br0'/><model type='virtio'/>
            </interface>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
          </devices>
        </domain>
        """;

    /// <summary>The doc's example with its NIC on a tap, which we run.</summary>
    public static string DocExampleOnTap => DocExample.Replace(
        "<interface type='bridge'>\n      <mac address='52:54:00:aa:bb:cc'/><source bridge='br0'/>",
        "<interface type='ethernet'>\n      <mac address='52:54:00:aa:bb:cc'/><target dev='tap0'/>", StringComparison.Ordinal);

    /// <summary>A small valid domain with <paramref name="devices"/> inside &lt;devices&gt; and <paramref name="extra"/> after &lt;os&gt;.</summary>
    public static string Minimal(string devices = "", string extra = "", string memory = "<memory unit='MiB'>256</memory>") => $"""
        <domain type='kvm'>
          <name>small</name>
          {memory}
          <os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel></os>
          {extra}
          <devices>{devices}</devices>
        </domain>
        """;

    public const string Disk = "<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='/img/a.img'/><target dev='vda' bus='virtio'/></disk>";

    public static string DiskOn(string target, string file = "/img/x.img", string address = "") =>
        $"<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='{file}'/><target dev='{target}'/>{address}</disk>";

    public static string Nic(string tap, string more = "") => $"<interface type='ethernet'><target dev='{tap}'/>{more}</interface>";

    public static string Slot(int slot) => $"<address type='pci' domain='0x0000' bus='0x00' slot='0x{slot:x2}' function='0x0'/>";

    /// <summary>Asserts that <paramref name="parse"/> refuses with <paramref name="error"/>, in one line that contains each of <paramref name="mentions"/>.</summary>
    public static ManagerException Refused(Action parse, ManagerError error, params string[] mentions)
    {
        var e = Assert.Throws<ManagerException>(parse);
        Assert.True(error == e.Error, $"expected {error}, got {e.Error}: {e.Message}");
        foreach (string mention in mentions) Assert.Contains(mention, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }

    public static ManagerException Refused(string xml, ManagerError error, params string[] mentions) =>
        Refused(() => DomainXmlReader.Parse(xml), error, mentions);
}
