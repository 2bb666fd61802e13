using System.Text;
using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Runtime;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// fw_cfg's "bootorder" bytes as QEMU writes them for several layouts (paths per SeaBIOS's boot.c and OVMF's
/// QemuBootOrderLib; '\n' between lines, one NUL at the end), and the config rules for boot indexes.
/// </summary>
public class BootOrderFileTests
{
    private static MachineConfig Machine(bool strict, params DiskConfig[] disks) =>
        new MachineConfig { Firmware = new FirmwareConfig(FirmwareKind.Bios) { StrictBoot = strict }, Disks = [.. disks] }.Normalize();

    private static string? Text(MachineConfig config, string? rom = null) =>
        FirmwareBootOrder.File(config, rom) is { } bytes ? Encoding.ASCII.GetString(bytes) : null;

    [Fact]
    public void A_disk_listed_second_but_booted_first_comes_first_by_its_slot()
    {
        // Default slots: on a BIOS machine the disks take slots 1 and 2 in list order.
        var config = Machine(false, new DiskConfig("/data.img") { BootIndex = 2 }, new DiskConfig("/system.img") { BootIndex = 1 });
        Assert.Equal([1, 2], config.Disks.Select(d => d.Slot!.Value));
        Assert.Equal("/pci@i0cf8/scsi@2/disk@0,0\n/pci@i0cf8/scsi@1/disk@0,0\0", Text(config));
    }

    [Fact]
    public void Slots_are_hex_unlisted_disks_are_left_out_and_strict_ends_with_halt()
    {
        var config = Machine(true,
            new DiskConfig("/a.img") { Slot = 26, BootIndex = 7 },
            new DiskConfig("/b.img"),
            new DiskConfig("/c.img") { Slot = 10, BootIndex = 3 });
        Assert.Equal("/pci@i0cf8/scsi@a/disk@0,0\n/pci@i0cf8/scsi@1a/disk@0,0\nHALT\0", Text(config));
    }

    [Fact]
    public void The_kernel_rom_is_first_and_nothing_listed_is_no_file_even_when_strict()
    {
        var disk = new DiskConfig("/a.img") { BootIndex = 1 };
        Assert.Equal("/rom@genroms/linuxboot_dma.bin\n/pci@i0cf8/scsi@1/disk@0,0\0", Text(Machine(false, disk), "genroms/linuxboot_dma.bin"));
        Assert.Equal("/rom@genroms/linuxboot_dma.bin\0", Text(Machine(false, new DiskConfig("/a.img")), "genroms/linuxboot_dma.bin"));
        // QEMU adds HALT only after a non-empty list (get_boot_devices_list).
        Assert.Null(Text(Machine(true, new DiskConfig("/a.img"))));
        Assert.Equal([0xFF, 0xFF, 0xFF, 0xFF], FirmwareBootOrder.BootFailWait());
    }

    [Fact]
    public void Boot_indexes_are_checked_and_said_in_the_flags_words()
    {
        var good = Machine(true, new DiskConfig("/a.img") { BootIndex = 1 }, new DiskConfig("/b.img") { BootIndex = 2 });
        Assert.Empty(good.Validate());

        string Problem(MachineConfig config) => ConfigFlags.Describe(Assert.Single(config.Validate()));
        Assert.Equal("--disk: 0 is not a boot index: 1 is tried first, 2 next, and so on",
            Problem(Machine(false, new DiskConfig("/a.img") { BootIndex = 0 })));
        Assert.Equal("--disk: boot index 2 is given twice: each device needs its own",
            Problem(Machine(false, new DiskConfig("/a.img") { BootIndex = 2 }, new DiskConfig("/b.img") { BootIndex = 2 })));
        Assert.Equal("--disk: needs firmware (--firmware bios or uefi): a kernel loaded directly boots from no disk",
            Problem(new MachineConfig { Disks = [new DiskConfig("/a.img") { BootIndex = 1 }] }));
        Assert.StartsWith("--net: a NIC cannot boot here: SeaBIOS boots from the network only through a NIC's option ROM (iPXE)",
            Problem(good with { Nets = [new NetConfig("tap0") { BootIndex = 3 }] }));
    }

    [Fact]
    public void The_json_form_carries_boot_index_and_strict_boot_only_when_given()
    {
        var config = Machine(true, new DiskConfig("/a.img") { BootIndex = 1 }, new DiskConfig("/b.img"));
        string json = MachineConfigJson.Write(config);
        Assert.Contains("\"boot_index\": 1", json, StringComparison.Ordinal);
        Assert.Contains("\"strict_boot\": true", json, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(json, "boot_index"));
        Assert.Equal(config, MachineConfigJson.Read(json));
        Assert.DoesNotContain("strict_boot", MachineConfigJson.Write(Machine(false, new DiskConfig("/a.img"))), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/a.img,boot=2", 2, "")]
    [InlineData("/a.img,format=raw,boot=1,readonly=on", 1, "")]
    [InlineData("/a.img", null, "")]
    [InlineData("/a.img,boot=first", null, "boot=first: give the device's place in the boot order as a number, 1 for the first tried")]
    [InlineData("/a.img,boot=-1", null, "boot=-1: give the device's place")]
    [InlineData("/a.img,boot=", null, "boot=: give the device's place")]
    public void The_disk_flag_reads_boot(string text, int? index, string error)
    {
        bool parsed = DiskOption.TryParse(text, out var disk, out string message);
        Assert.Equal(error.Length == 0, parsed);
        if (parsed) Assert.Equal(index, disk.BootIndex);
        else Assert.StartsWith(error, message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_net_flag_reads_boot_for_validation_to_refuse()
    {
        Assert.True(NetOption.TryParse("tap=tap0,boot=1", out var tap, out _));
        Assert.Equal(1, tap.BootIndex);
        Assert.True(NetOption.TryParse("user,boot=2", out var user, out _));
        Assert.Equal(2, user.BootIndex);
        Assert.Contains("nets[0].boot_index", new MachineConfig { Nets = [user] }.Validate().Select(p => p.Field));
    }
}
