using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>Everything we cannot honour is refused, never dropped, and the one-line message names the element or attribute.</summary>
public class DomainXmlRefusalTests
{
    [Theory]
    [InlineData("<graphics type='vnc'/>", "<graphics> is not supported")]
    [InlineData("<video><model type='virtio'/></video>", "<video> is not supported")]
    [InlineData("<controller type='usb' model='qemu-xhci'/>", "<controller> is not supported")]
    [InlineData("<channel type='unix'><target type='virtio' name='org.qemu.guest_agent.0'/></channel>", "<channel> is not supported")]
    [InlineData("<emulator>/usr/bin/qemu-system-x86_64</emulator>", "<emulator> is not supported")]
    [InlineData("<disk type='file' device='cdrom'><driver name='qemu' type='raw'/><source file='/x.iso'/><target dev='vda'/></disk>", "device='cdrom'")]
    [InlineData("<disk type='block' device='disk'><driver name='qemu' type='raw'/><source dev='/dev/sdb'/><target dev='vda'/></disk>", "type='block'")]
    [InlineData("<disk type='file'><driver name='qemu' type='raw' cache='none'/><source file='/a'/><target dev='vda'/></disk>", "'cache' of <driver> in <disk>")]
    [InlineData("<disk type='file'><driver name='qemu' type='vmdk'/><source file='/a'/><target dev='vda'/></disk>", "type='vmdk'")]
    [InlineData("<disk type='file'><driver name='tap' type='raw'/><source file='/a'/><target dev='vda'/></disk>", "name='tap'")]
    [InlineData("<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/><target dev='sda' bus='sata'/></disk>", "target dev='sda'")]
    [InlineData("<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/><target dev='vda' bus='scsi'/></disk>", "bus='scsi'")]
    [InlineData("<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/><target dev='vda'/><boot order='1'/></disk>", "<boot order> of a <disk> needs firmware")]
    [InlineData("<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/><target dev='vda'/><address type='drive' controller='0'/></disk>", "type='drive'")]
    [InlineData("<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/><target dev='vda'/><address type='pci' bus='0x01' slot='0x01'/></disk>", "bus 1")]
    [InlineData("<disk type='file'><driver name='qemu' type='raw'/><source file='/a'/><target dev='vda'/><address type='pci' slot='0x01' function='0x1'/></disk>", "function 1")]
    [InlineData("<interface type='bridge'><source bridge='br0'/></interface>", "<interface type='bridge'>")]
    [InlineData("<interface type='network'><source network='default'/><target dev='tap0'/></interface>", "<target dev='tap0'> of a network <interface>")]
    [InlineData("<interface type='network'><source network='default' portgroup='x'/></interface>", "'portgroup' of <source> in <interface>")]
    [InlineData("<interface type='ethernet'><target dev='tap0'/><model type='e1000'/></interface>", "type='e1000'")]
    [InlineData("<interface type='ethernet'><target dev='tap0' managed='yes'/></interface>", "managed='yes'")]
    [InlineData("<interface type='ethernet'><target dev='tap0'/><source dev='eth0'/></interface>", "<source> in <interface>")]
    [InlineData("<serial type='file'><source path='/tmp/x'/></serial>", "type='file' of <serial>")]
    [InlineData("<serial type='pty'><target port='1'/></serial>", "port='1'")]
    [InlineData("<serial type='pty'/><serial type='pty'/>", "a second <serial>")]
    [InlineData("<console type='pty'><target type='virtio'/></console>", "type='virtio' of <target> in <console>")]
    [InlineData("<rng model='virtio'><backend model='egd' type='tcp'/></rng>", "model='egd'")]
    [InlineData("<rng model='virtio'><backend model='random'>/dev/hwrng</backend></rng>", "/dev/hwrng")]
    [InlineData("<rng model='virtio'><backend model='random'/><rate bytes='1234'/></rng>", "<rate> in <rng>")]
    [InlineData("<memballoon model='xen'/>", "model='xen'")]
    [InlineData("<memballoon model='virtio' freePageReporting='on'/>", "'freePageReporting' of <memballoon>")]
    [InlineData("<vsock model='virtio'><cid auto='yes'/></vsock>", "auto='yes'")]
    public void Unsupported_devices_name_themselves(string devices, string mention)
    {
        Refused(Minimal(devices), ManagerError.ConfigUnsupported, "unsupported configuration: ", mention);
    }

    [Theory]
    [InlineData("<metadata><x:app xmlns:x='urn:x'/></metadata>", "<metadata> is not supported")]
    [InlineData("<maxMemory slots='16' unit='KiB'>8388608</maxMemory>", "<maxMemory>")]
    [InlineData("<vcpu placement='auto'>2</vcpu>", "placement='auto'")]
    [InlineData("<vcpu cpuset='1-3'>2</vcpu>", "'cpuset' of <vcpu>")]
    [InlineData("<features><acpi/><hap/></features>", "<hap> in <features>")]
    [InlineData("<features><vmport state='on'/></features>", "state='on'")]
    [InlineData("<cpu mode='custom'><model>Skylake</model></cpu>", "mode='custom'")]
    [InlineData("<cpu mode='host-model'><topology sockets='1' cores='2' threads='1'/></cpu>", "<topology> in <cpu>")]
    [InlineData("<cpu mode='host-model' migratable='on'/>", "'migratable' of <cpu>")]
    [InlineData("<clock offset='localtime'/>", "offset='localtime'")]
    [InlineData("<clock offset='utc'><timer name='rtc' tickpolicy='catchup'/></clock>", "<timer> in <clock>")]
    [InlineData("<pm><suspend-to-mem enabled='yes'/></pm>", "enabled='yes'")]
    [InlineData("<on_crash>coredump-destroy</on_crash>", "<on_crash> 'coredump-destroy'")]
    [InlineData("<on_reboot>rename-restart</on_reboot>", "<on_reboot> 'rename-restart'")]
    [InlineData("<resource><partition>/machine</partition></resource>", "<resource>")]
    [InlineData("<seclabel type='none'/>", "<seclabel>")]
    [InlineData("<iothreads>1</iothreads>", "<iothreads>")]
    [InlineData("<x:thing xmlns:x='urn:x'/>", "<x:thing> is not supported")]
    public void Unsupported_domain_elements_name_themselves(string extra, string mention)
    {
        Refused(Minimal(extra: extra), ManagerError.ConfigUnsupported, "unsupported configuration: ", mention);
    }

    [Theory]
    [InlineData("type='xen'", "domain type 'xen'")]
    [InlineData("type='kvm' foo='1'", "'foo' of <domain>")]
    public void The_domain_element_itself(string attributes, string mention)
    {
        Refused(Minimal().Replace("type='kvm'", attributes, StringComparison.Ordinal), ManagerError.ConfigUnsupported, mention);
    }

    [Theory]
    [InlineData("<os><type>hvm</type></os>", "neither <kernel> nor <boot dev='hd'/>")]
    [InlineData("<os><type>hvm</type><loader>/usr/share/seabios/bios.bin</loader><kernel>/k</kernel></os>", "<loader> with a <kernel>")]
    [InlineData("<os><type>hvm</type><loader type='pflash' secure='yes'>/usr/share/OVMF/OVMF_CODE_4M.ms.fd</loader><boot dev='hd'/></os>", "Secure Boot needs SMM")]
    [InlineData("<os><type>hvm</type><loader type='nvram'>/x</loader><boot dev='hd'/></os>", "type='nvram'")]
    [InlineData("<os><type>hvm</type><boot dev='hd'/><nvram>/var/lib/vars.fd</nvram></os>", "<nvram> in <os>")]
    [InlineData("<os firmware='coreboot'><type>hvm</type><boot dev='hd'/></os>", "firmware='coreboot'")]
    [InlineData("<os><type>hvm</type><boot dev='cdrom'/></os>", "dev='cdrom'")]
    [InlineData("<os><type>hvm</type><boot dev='hd'/><cmdline>quiet</cmdline></os>", "need a <kernel>")]
    [InlineData("<os><type>hvm</type><kernel>/k</kernel><dtb>/d</dtb></os>", "<dtb> in <os>")]
    [InlineData("<os firmware='efi'><type>hvm</type><kernel>/k</kernel></os>", "UEFI with a <kernel>")]
    [InlineData("<os><type>linux</type><kernel>/k</kernel></os>", "os type 'linux'")]
    [InlineData("<os><type arch='aarch64'>hvm</type><kernel>/k</kernel></os>", "arch='aarch64'")]
    [InlineData("<os><type machine='virt'>hvm</type><kernel>/k</kernel></os>", "machine 'virt'")]
    public void Only_a_kernel_or_firmware_booting_a_disk_of_an_x86_64_hvm_guest(string os, string mention)
    {
        string xml = Minimal().Replace("<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel></os>", os, StringComparison.Ordinal);
        Refused(xml, ManagerError.ConfigUnsupported, mention);
    }

    [Fact]
    public void Without_os_the_domain_is_refused()
    {
        Refused(Minimal().Replace("<os><type arch='x86_64'>hvm</type><kernel>/boot/vmlinuz</kernel></os>", "", StringComparison.Ordinal),
            ManagerError.ConfigUnsupported, "without <os>");
    }

    [Theory]
    [InlineData("<name>small</name>", "", "<name> is missing")]
    [InlineData("<name>small</name>", "<name></name>", "is empty")]
    [InlineData("<name>small</name>", "<name>a/b</name>", "'/'")]
    [InlineData("<name>small</name>", "<name>..</name>", "'..'")]
    [InlineData("<name>small</name>", "<name>a\tb</name>", "control characters")]
    [InlineData("<name>small</name>", "<name>small</name><name>big</name>", "<name> is given more than once")]
    [InlineData("<name>small</name>", "<name>small</name><uuid>not-a-uuid</uuid>", "<uuid> 'not-a-uuid'")]
    [InlineData("<name>small</name>", "<name>small</name><uuid>00000000-0000-0000-0000-000000000000</uuid>", "all zeros")]
    [InlineData("<name>small</name>", "<name>small</name><title>two\nlines</title>", "<title> must be one line")]
    [InlineData("<name>small</name>", "<name>small</name><vcpu>many</vcpu>", "<vcpu> must be a whole number")]
    [InlineData("<name>small</name>", "<name>small</name><vcpu>0</vcpu>", "<vcpu>: must be between 1 and 255")]
    [InlineData("<name>small</name>", "<name>small</name><vcpu>256</vcpu>", "<vcpu>: must be between 1 and 255")]
    [InlineData("<memory unit='MiB'>256</memory>", "", "<memory> is missing")]
    [InlineData("<kernel>/boot/vmlinuz</kernel>", "<kernel>vmlinuz</kernel>", "<kernel> must be an absolute path")]
    [InlineData("<kernel>/boot/vmlinuz</kernel>", "<kernel>/boot/vmlinuz</kernel><initrd></initrd>", "<initrd> must be an absolute path")]
    [InlineData("<devices>", "<devices>text", "<devices> must not contain text")]
    [InlineData("<devices>", "<devices><disk><source file='/a'/><target dev='vda'/></disk>", "<driver> is missing in <disk>")]
    [InlineData("<devices>", "<devices><disk><driver name='qemu'/><source file='/a'/><target dev='vda'/></disk>", "<driver> in <disk> needs the attribute 'type'")]
    [InlineData("<devices>", "<devices><disk><driver type='raw'/><source file='a.img'/><target dev='vda'/></disk>", "the file of <source> in <disk> must be an absolute path")]
    [InlineData("<devices>", "<devices><disk><driver type='raw'/><source file='/a'/><target bus='virtio'/></disk>", "<target> in <disk> needs the attribute 'dev'")]
    [InlineData("<devices>", "<devices><disk><driver type='raw'/><source file='/a'/><target dev='vda'/><serial>far too long for a virtio serial</serial></disk>", "<serial> of <disk> vda")]
    [InlineData("<devices>", "<devices><disk><driver type='raw'/><source file='/a'/><target dev='vda'/><serial>S/N</serial></disk>", "<serial> 'S/N' of disk vda")]
    [InlineData("<devices>", "<devices><disk><driver type='raw'/><source file='/a'/><target dev='vda'/><address type='pci' slot='0x00'/></disk>", "<address slot> of <disk> vda: must be between 1 and 31")]
    [InlineData("<devices>", "<devices><disk><driver type='raw'/><source file='/a'/><target dev='vda'/><address type='pci' slot='0x20'/></disk>", "slot='0x20'")]
    [InlineData("<devices>", "<devices><disk><driver type='raw'/><source file='/a'/><target dev='vda'/><address type='pci' slot='zz'/></disk>", "slot='zz'")]
    [InlineData("<devices>", "<devices><interface type='ethernet'><target dev='tap0'/><mac address='01:00:5e:00:00:01'/></interface>", "<mac address> of <interface> on tap0", "multicast")]
    [InlineData("<devices>", "<devices><interface type='ethernet'><target dev='tap0'/><mac address='zz'/></interface>", "<mac address> of <interface> on tap0")]
    [InlineData("<devices>", "<devices><interface type='ethernet'><target dev='a/b'/></interface>", "<target dev> of <interface>")]
    [InlineData("<devices>", "<devices><interface type='ethernet'><model type='virtio'/></interface>", "<target> is missing in <interface>")]
    [InlineData("<devices>", "<devices><vsock><cid address='2'/></vsock>", "<cid address> of <vsock>: cid 2 is reserved")]
    [InlineData("<devices>", "<devices><vsock><cid address='x'/></vsock>", "the address 'x' of <cid>")]
    [InlineData("<devices>", "<devices><memballoon model='virtio'><stats period='-1'/></memballoon>", "the period '-1' of <stats>")]
    public void Bad_values_are_xml_errors_naming_their_element(string replaced, string by, params string[] mentions)
    {
        string xml = Minimal().Replace(replaced, by, StringComparison.Ordinal);
        Assert.NotEqual(Minimal(), xml);
        Refused(xml, ManagerError.XmlError, ["XML error: ", .. mentions]);
    }

    [Fact]
    public void Two_disks_on_one_target_or_one_slot_are_refused()
    {
        Refused(Minimal(DiskOn("vda") + DiskOn("vda")), ManagerError.XmlError, "dev='vda' is given to two disks");
        Refused(Minimal(DiskOn("vda", address: Slot(3)) + DiskOn("vdb", address: Slot(3))), ManagerError.XmlError, "<address slot> of <disk> vdb", "slot 3 is already taken");
        Refused(Minimal(Nic("tap0") + Nic("tap0")), ManagerError.XmlError, "tap0 is given twice");
    }

    [Fact]
    public void Thirty_two_devices_do_not_fit_on_the_bus()
    {
        static string Disks(int n) => string.Concat(Enumerable.Range(0, n).Select(i => DiskOn($"vd{(char)('a' + i / 26)}{(char)('a' + i % 26)}")));
        Assert.Equal(31, DomainXmlReader.Parse(Minimal(Disks(31))).Disks.Count);
        Refused(Minimal(Disks(31) + "<rng model='virtio'><backend model='random'/></rng>"), ManagerError.XmlError, "<rng>: no PCI slot is left");
        Refused(Minimal(Disks(32)), ManagerError.XmlError, "more disks and interfaces than the 31 PCI slots");
        Refused(Minimal(string.Concat(Enumerable.Repeat(Nic("tap0"), 10_000))), ManagerError.XmlError, "31 PCI slots");
    }

    [Fact]
    public void Many_problems_make_one_short_line()
    {
        string nics = string.Concat(Enumerable.Range(0, 10).Select(i => Nic("tap0", $"<mac address='01:00:00:00:00:0{i}'/>")));
        var e = Refused(Minimal(nics), ManagerError.XmlError, "(and ");
        Assert.True(e.Message.Length < 400, e.Message);
    }
}
