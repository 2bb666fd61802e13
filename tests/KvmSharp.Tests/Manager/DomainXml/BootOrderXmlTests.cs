using KvmSharp.Machine.Config;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>
/// Boot order in domain XML: per-device &lt;boot order&gt; on disks, or &lt;os&gt;&lt;boot dev='hd'/&gt;, mapped as
/// libvirt's qemu driver maps them (bootindex, -boot strict=on), written back by dumpxml, and every mix or device that
/// cannot boot refused with one line.
/// </summary>
public class BootOrderXmlTests
{
    private const string FirmwareOs = "<os><type arch='x86_64'>hvm</type></os>";

    private static string Firmware(string devices, string os = FirmwareOs) =>
        Minimal(devices).Replace("<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel></os>", os, StringComparison.Ordinal);

    private static string OrderedDisk(string target, int order, string file = "/img/x.img") =>
        $"<disk type='file' device='disk'><driver name='qemu' type='raw'/><source file='{file}'/><target dev='{target}' bus='virtio'/><boot order='{order}'/></disk>";

    [Fact]
    public void Per_device_orders_become_boot_indexes_with_strict_boot_and_survive_dumpxml()
    {
        // An installer's data disk first in the list, the system disk second but booted first.
        var d = DomainXmlReader.Parse(Firmware(OrderedDisk("vda", 2, "/img/data.img") + OrderedDisk("vdb", 1, "/img/system.img") + DiskOn("vdc")));
        Assert.False(d.Os.BootsDisk);
        Assert.Equal([2, 1, null], d.Disks.Select(disk => disk.BootOrder));
        var config = d.ToMachineConfig("/run/c", null);
        Assert.Equal([2, 1, null], config.Disks.Select(disk => disk.BootIndex));
        Assert.True(config.Firmware!.StrictBoot);
        Assert.Empty(config.Validate());

        string written = DomainXmlWriter.Format(d);
        Assert.Contains("<boot order=\"1\" />", written, StringComparison.Ordinal);
        Assert.DoesNotContain("<boot dev=", written, StringComparison.Ordinal);   // libvirt writes one style only
        // libvirt's order inside <disk>: … <boot> right before <address>.
        Assert.Matches("<boot order=\"2\" />\\s*<address type=\"pci\"", written);
        Assert.Equal(d, DomainXmlReader.Parse(written));
    }

    [Fact]
    public void Boot_dev_hd_is_index_1_on_the_first_disk_by_target()
    {
        var d = DomainXmlReader.Parse(Firmware(DiskOn("vdb") + DiskOn("vda"), "<os><type>hvm</type><boot dev='hd'/><boot dev='hd'/></os>"));
        var config = d.ToMachineConfig("/run/c", null);
        Assert.Equal("vda", config.Disks[0].Id);
        Assert.Equal([1, null], config.Disks.Select(disk => disk.BootIndex));
        Assert.True(config.Firmware!.StrictBoot);
    }

    [Fact]
    public void A_directly_loaded_kernel_gives_no_disk_a_boot_index()
    {
        var d = DomainXmlReader.Parse(Minimal(Disk, extra: "").Replace("<kernel>", "<boot dev='hd'/><kernel>", StringComparison.Ordinal));
        var config = d.ToMachineConfig("/run/c", null);
        Assert.Null(config.Firmware);
        Assert.All(config.Disks, disk => Assert.Null(disk.BootIndex));
    }

    [Theory]
    [InlineData("<boot dev='hd'/>", ManagerError.ConfigUnsupported, "unsupported configuration: per-device boot elements cannot be used together with os/boot elements")]
    [InlineData("<boot dev='network'/>", ManagerError.ConfigUnsupported, "<boot dev='network'/> is not supported: a NIC cannot boot here")]
    [InlineData("<boot dev='cdrom'/>", ManagerError.ConfigUnsupported, "<boot dev='cdrom'/> is not supported: KvmSharp has no CD-ROM drive")]
    [InlineData("<boot dev='fd'/>", ManagerError.ConfigUnsupported, "<boot dev='fd'/> is not supported")]
    [InlineData("<boot dev='usb'/>", ManagerError.XmlError, "unknown boot device 'usb'")]
    [InlineData("<boot/>", ManagerError.XmlError, "missing boot device")]
    public void Os_boot_devices_that_cannot_be_honoured_are_refused(string boot, ManagerError error, string mention)
    {
        Refused(Firmware(OrderedDisk("vda", 1), $"<os><type>hvm</type>{boot}</os>"), error, mention);
    }

    [Theory]
    [InlineData("0", ManagerError.XmlError, "incorrect boot order '0' of <disk> vda, expecting positive integer")]
    [InlineData("-1", ManagerError.XmlError, "incorrect boot order '-1'")]
    [InlineData("x", ManagerError.XmlError, "incorrect boot order 'x'")]
    [InlineData("99999999999", ManagerError.XmlError, "incorrect boot order '99999999999'")]
    public void A_boot_order_is_a_positive_number(string order, ManagerError error, string mention)
    {
        Refused(Firmware($"<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/><target dev='vda'/><boot order='{order}'/></disk>"), error, mention);
    }

    [Fact]
    public void Orders_given_twice_a_nic_order_and_an_order_beside_a_kernel_are_refused()
    {
        Refused(Firmware(OrderedDisk("vda", 1) + OrderedDisk("vdb", 1, "/img/y.img")), ManagerError.ConfigUnsupported, "boot order '1' used for more than one device");
        Refused(Firmware(OrderedDisk("vda", 1) + Nic("tap0", "<boot order='2'/>")), ManagerError.ConfigUnsupported, "<boot order> of an <interface> is not supported: a NIC cannot boot here");
        Refused(Minimal(OrderedDisk("vda", 1)), ManagerError.ConfigUnsupported, "<boot order> of a <disk> needs firmware");
        Refused(Firmware("<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/><target dev='vda'/><boot order='1' loadparm='x'/></disk>"),
            ManagerError.ConfigUnsupported, "'loadparm' of <boot> in <disk>");
    }

    [Fact]
    public void Without_boot_elements_or_a_kernel_firmware_boots_the_first_disk_as_libvirt_adds_boot_dev_hd()
    {
        var d = DomainXmlReader.Parse(Firmware(Disk, "<os><type>hvm</type><loader readonly='yes' type='rom'>/opt/bios.bin</loader></os>"));
        Assert.True(d.Os.BootsDisk);
        Assert.Equal(1, d.ToMachineConfig("/run/c", null).Disks[0].BootIndex);
        Assert.Contains("<boot dev=\"hd\" />", DomainXmlWriter.Format(d), StringComparison.Ordinal);
    }
}
