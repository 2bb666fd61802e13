using KvmSharp.Machine.Config;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

public class DomainXmlReaderTests
{
    [Fact]
    public void The_doc_example_is_refused_for_its_bridge_and_nothing_else()
    {
        Refused(DocExample, ManagerError.ConfigUnsupported, "<interface type='bridge'>", "not supported yet");
        var d = DomainXmlReader.Parse(DocExampleOnTap);
        Assert.Equal("dkb", d.Name);
        Assert.Equal(Guid.Parse("0b6e6b1c-2f1e-4c55-9d1a-6f0d1e2a3b4c"), d.Uuid);
        Assert.Equal(DomainType.Kvm, d.Type);
        Assert.Equal(512UL * 1024, d.MemoryKib);
        Assert.Equal(512UL * 1024, d.CurrentMemoryKib);
        Assert.Equal(2, d.VcpuCount);
        Assert.Equal(new DomainOs("/var/lib/kvmsharp/vmlinuz", "/var/lib/kvmsharp/initrd.img", "console=ttyS0 root=/dev/vda rw", "pc"), d.Os);
        Assert.Equal((LifecycleAction.Destroy, LifecycleAction.Restart, LifecycleAction.Destroy), (d.OnPoweroff, d.OnReboot, d.OnCrash));
        var disk = Assert.Single(d.Disks);
        Assert.Equal(new DomainDisk("vda", "/var/lib/kvmsharp/dkb.img", DiskFormat.Raw) { Slot = 1 }, disk);
        var nic = Assert.Single(d.Interfaces);
        Assert.Equal(new DomainInterface("tap0", "52:54:00:aa:bb:cc") { Slot = 2 }, nic);
        Assert.True(d.HasSerialConsole);
        Assert.Null(d.Balloon);
        Assert.Null(d.Rng);
        Assert.Null(d.Vsock);
    }

    [Fact]
    public void Defaults_are_filled_in_as_libvirt_fills_them()
    {
        var d = DomainXmlReader.Parse(Minimal(Nic("tap0") + Nic("tap1")));
        Assert.NotEqual(Guid.Empty, d.Uuid);
        Assert.NotEqual(d.Uuid, DomainXmlReader.Parse(Minimal()).Uuid);
        Assert.Equal(d.MemoryKib, d.CurrentMemoryKib);
        Assert.Equal(1, d.VcpuCount);
        Assert.Equal("pc", d.Os.Machine);
        Assert.False(d.HasSerialConsole);
        Assert.All(d.Interfaces, nic => Assert.Matches("^52:54:00(:[0-9a-f]{2}){3}$", nic.Mac));
        Assert.NotEqual(d.Interfaces[0].Mac, d.Interfaces[1].Mac);
        Assert.Equal([1, 2], d.Interfaces.Select(n => n.Slot!.Value));
    }

    [Theory]
    [InlineData("<memory>1048576</memory>", 1048576UL)]
    [InlineData("<memory unit='KiB'>1048576</memory>", 1048576UL)]
    [InlineData("<memory unit='k'>1048576</memory>", 1048576UL)]
    [InlineData("<memory unit='b'>1073741824</memory>", 1048576UL)]
    [InlineData("<memory unit='bytes'>1073741824</memory>", 1048576UL)]
    [InlineData("<memory unit='M'>1024</memory>", 1048576UL)]
    [InlineData("<memory unit='MiB'>1024</memory>", 1048576UL)]
    [InlineData("<memory unit='G'>1</memory>", 1048576UL)]
    [InlineData("<memory unit='GiB'> 1 </memory>", 1048576UL)]
    [InlineData("<memory unit='T'>1</memory>", 1UL << 30)]
    [InlineData("<memory unit='TiB'>1</memory>", 1UL << 30)]
    [InlineData("<memory unit='KB'>1024000</memory>", 1000000UL)]
    [InlineData("<memory unit='MB'>1000</memory>", 976564UL)] // 10^9 bytes = 976562.5 KiB: up to the KiB, then up to a page
    [InlineData("<memory unit='GB'>1</memory>", 976564UL)]
    [InlineData("<memory unit='b'>4194305</memory>", 4100UL)] // one byte over 4 MiB takes another page
    public void Memory_units_are_libvirts_scaled_integers(string memory, ulong kib)
    {
        var d = DomainXmlReader.Parse(Minimal(memory: memory));
        Assert.Equal(kib, d.MemoryKib);
        Assert.Equal(kib * 1024, d.ToMachineConfig("/run/c.sock", null).MemorySize);
    }

    [Fact]
    public void TB_is_ten_to_the_twelfth_bytes_and_too_much_for_us()
    {
        Refused(Minimal(memory: "<memory unit='TB'>2</memory>"), ManagerError.XmlError, "<memory>", "must be between");
    }

    [Theory]
    [InlineData("<memory unit='KiB'>twelve</memory>", "whole number")]
    [InlineData("<memory unit='KiB'>-1</memory>", "whole number")]
    [InlineData("<memory unit='KiB'>0x100</memory>", "whole number")]
    [InlineData("<memory unit='KiB'>99999999999999999999999</memory>", "whole number")]
    [InlineData("<memory unit='EiB'>1</memory>", "unit 'EiB'")]
    [InlineData("<memory unit='TiB'>99999999</memory>", "too large")]
    [InlineData("<memory unit='KiB'>1024</memory>", "<memory>: must be between")]
    public void Bad_memory_is_an_xml_error_naming_memory(string memory, string mention)
    {
        Refused(Minimal(memory: memory), ManagerError.XmlError, "<memory>", mention);
    }

    [Fact]
    public void Current_memory_defaults_clamps_and_needs_a_balloon_to_be_lower()
    {
        const string balloon = "<memballoon model='virtio' autodeflate='on'><stats period='5'/></memballoon>";
        var d = DomainXmlReader.Parse(Minimal(balloon, "<currentMemory unit='MiB'>200</currentMemory>"));
        Assert.Equal(200UL * 1024, d.CurrentMemoryKib);
        Assert.Equal(new DomainBalloon(AutoDeflate: true, StatsPeriodS: 5) { Slot = 1 }, d.Balloon);
        var config = d.ToMachineConfig("/c", null);
        Assert.Equal(56U, config.Balloon!.AmountMib);
        Assert.True(config.Balloon.DeflateOnOom);
        Assert.Equal(5U, config.Balloon.StatsPollingIntervalS);

        Assert.Equal(256UL * 1024, DomainXmlReader.Parse(Minimal(balloon, "<currentMemory unit='GiB'>4</currentMemory>")).CurrentMemoryKib);
        Refused(Minimal(extra: "<currentMemory unit='MiB'>200</currentMemory>"), ManagerError.ConfigUnsupported, "<currentMemory>", "<memballoon");
        Assert.Null(DomainXmlReader.Parse(Minimal("<memballoon model='none'/>")).Balloon);
    }

    [Fact]
    public void Disks_are_sorted_by_target_and_get_slots_in_that_order()
    {
        var d = DomainXmlReader.Parse(Minimal(DiskOn("vdaa") + DiskOn("vdc") + DiskOn("vda") + DiskOn("vdz")));
        Assert.Equal(["vda", "vdc", "vdz", "vdaa"], d.Disks.Select(x => x.Target));
        Assert.Equal([1, 2, 3, 4], d.Disks.Select(x => x.Slot!.Value));
    }

    [Fact]
    public void A_device_added_without_an_address_leaves_the_others_where_they_were()
    {
        var before = DomainXmlReader.Parse(Minimal(DiskOn("vda") + Nic("tap0") + "<rng model='virtio'><backend model='random'/></rng>"));
        string xml = DomainXmlWriter.Format(before).Replace("</devices>", DiskOn("vdb", "/img/new.img") + "</devices>", StringComparison.Ordinal);
        var after = DomainXmlReader.Parse(xml);
        Assert.Equal(before.Disks[0], after.Disks[0]);
        Assert.Equal(before.Interfaces, after.Interfaces);
        Assert.Equal(before.Rng, after.Rng);
        Assert.Equal(4, after.Disks[1].Slot);
    }

    [Fact]
    public void Every_device_maps_onto_the_machine_config()
    {
        string xml = Minimal(
            DiskOn("vdb", "/img/data.qcow2", Slot(7)) + Disk.Replace("<target", "<readonly/><serial>SER-1</serial><target", StringComparison.Ordinal)
            + Nic("tap9", "<mac address='52-54-00-0A-0B-0C'/><model type='virtio'/>")
            + "<console type='pty'/><rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>"
            + "<memballoon model='virtio'/><vsock model='virtio'><cid auto='no' address='42'/></vsock>",
            "<vcpu placement='static'>3</vcpu>").Replace("type='kvm'", "type='qemu'", StringComparison.Ordinal);
        var d = DomainXmlReader.Parse(xml);
        var config = d.ToMachineConfig("/run/kvmsharp/small.console", "/run/kvmsharp/small.vsock");
        Assert.Empty(config.Validate());
        Assert.Equal(config, config.Normalize());
        Assert.Equal(AcceleratorChoice.Emulate, config.Accelerator);
        Assert.Equal(3, config.VcpuCount);
        Assert.Equal(new KernelConfig("/boot/vmlinuz"), config.Kernel);
        Assert.Equal(new ConsoleConfig(ConsoleKind.Socket, "/run/kvmsharp/small.console"), config.Console);
        Assert.Equal(new DiskConfig("/img/a.img", DiskFormat.Raw, ReadOnly: true, Serial: "SER-1") { Id = "vda", Slot = 1 }, config.Disks[0]);
        Assert.Equal(new DiskConfig("/img/data.qcow2", DiskFormat.Qcow2) { Id = "vdb", Slot = 7 }, config.Disks[1]);
        var nic = Assert.Single(config.Nets);
        Assert.Equal(("tap9", "52:54:00:0a:0b:0c"), (nic.Tap, nic.Mac));
        Assert.Equal("52:54:00:0a:0b:0c", d.Interfaces[0].Mac);
        Assert.Equal(new VsockConfig(42, "/run/kvmsharp/small.vsock") { Id = "vsock0", Slot = d.Vsock!.Slot }, config.Vsock);
        Assert.NotNull(config.Rng);
        Assert.Equal(0U, config.Balloon!.AmountMib);
        Assert.Equal(AcceleratorChoice.Auto, DomainXmlReader.Parse(Minimal()).ToMachineConfig("/c", null).Accelerator);
        Assert.Equal(ConsoleKind.None, DomainXmlReader.Parse(Minimal()).ToMachineConfig("/c", null).Console.Kind);
        Assert.Throws<ArgumentException>(() => d.ToMachineConfig("/c", null));
    }

    [Fact]
    public void The_harmless_elements_virt_install_writes_are_kept()
    {
        var d = DomainXmlReader.Parse(Minimal(extra: """
            <features><acpi/><apic/><vmport state='off'/></features>
            <cpu mode='host-passthrough' check='none' migratable='on'/>
            <clock offset='utc'/>
            <pm><suspend-to-mem enabled='no'/><suspend-to-disk enabled='no'/></pm>
            """));
        Assert.Equal(new DomainFeatures(Acpi: true, Apic: true, VmportOff: true), d.Features);
        Assert.Equal(new DomainCpu("host-passthrough", "none", true), d.Cpu);
        Assert.True(d.SuspendDisabled);
    }

    [Fact]
    public void A_running_domains_id_is_accepted_and_not_kept()
    {
        var d = DomainXmlReader.Parse(Minimal().Replace("type='kvm'", "type='kvm' id='7'", StringComparison.Ordinal));
        Assert.DoesNotContain("id=", DomainXmlWriter.Format(d), StringComparison.Ordinal);
        Assert.Contains("id=\"7\"", DomainXmlWriter.Format(d, 7), StringComparison.Ordinal);
    }

    [Fact]
    public void Boot_dev_hd_without_a_kernel_is_SeaBIOS_booting_the_disk_and_survives_a_round_trip()
    {
        string xml = Minimal(Disk).Replace("<kernel>/boot/vmlinuz</kernel>", "<boot dev='hd'/>", StringComparison.Ordinal);
        var d = DomainXmlReader.Parse(xml);
        var config = d.ToMachineConfig("/run/kvmsharp/small.console", null);
        Assert.Null(config.Kernel);
        Assert.Equal(new FirmwareConfig(FirmwareKind.Bios) { StrictBoot = true }, config.Firmware);   // libvirt's -boot strict=on
        Assert.Equal(1, config.Disks[0].BootIndex);   // libvirt's qemu driver: <boot dev='hd'/> first is bootindex 1 on the first disk
        Assert.Empty(config.Validate());
        string written = DomainXmlWriter.Format(d);
        Assert.Contains("<boot dev=\"hd\" />", written, StringComparison.Ordinal);
        Assert.DoesNotContain("<kernel>", written, StringComparison.Ordinal);
        Assert.Equal(d, DomainXmlReader.Parse(written));

        // <loader> names the BIOS image to boot instead of Debian's.
        var own = DomainXmlReader.Parse(xml.Replace("<boot dev='hd'/>", "<loader readonly='yes' type='rom'>/opt/bios.bin</loader><boot dev='hd'/>", StringComparison.Ordinal));
        Assert.Equal(new FirmwareConfig(FirmwareKind.Bios, "/opt/bios.bin") { StrictBoot = true }, own.ToMachineConfig("/run/c", null).Firmware);
        Assert.Equal(own, DomainXmlReader.Parse(DomainXmlWriter.Format(own)));
    }

    [Fact]
    public void Uefi_is_firmware_efi_or_a_pflash_loader_with_its_nvram_and_survives_a_round_trip()
    {
        string xml = Minimal(Disk).Replace("<kernel>/boot/vmlinuz</kernel>", "<boot dev='hd'/>", StringComparison.Ordinal);
        var auto = DomainXmlReader.Parse(xml.Replace("<os>", "<os firmware='efi'>", StringComparison.Ordinal));
        Assert.True(auto.Os.Uefi);
        Assert.Equal(new FirmwareConfig(FirmwareKind.Uefi) { StrictBoot = true }, auto.ToMachineConfig("/run/c", null).Firmware);
        string written = DomainXmlWriter.Format(auto);
        Assert.Contains("<os firmware=\"efi\">", written, StringComparison.Ordinal);
        Assert.Equal(auto, DomainXmlReader.Parse(written));

        var named = DomainXmlReader.Parse(xml.Replace("<boot dev='hd'/>",
            "<loader readonly='yes' type='pflash'>/opt/CODE.fd</loader><nvram template='/opt/VARS.fd'>/var/lib/vm_VARS.fd</nvram><boot dev='hd'/>", StringComparison.Ordinal));
        var config = named.ToMachineConfig("/run/c", null);
        Assert.Equal(new FirmwareConfig(FirmwareKind.Uefi, "/opt/CODE.fd", "/var/lib/vm_VARS.fd", "/opt/VARS.fd") { StrictBoot = true }, config.Firmware);
        Assert.Empty(config.Validate());
        Assert.Equal(named, DomainXmlReader.Parse(DomainXmlWriter.Format(named)));
    }
}
