using System.Text;
using KvmSharp.Machine.Config;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// fw_cfg's <c>bootorder</c> file as QEMU writes it (<c>get_boot_devices_list</c>; docs/specs/fw_cfg.rst lists the
/// file): one OpenFirmware device path per line, the first tried first, lines separated by '\n' and the whole ended by
/// one NUL (OVMF's QemuBootOrderLib refuses a file whose last byte is not NUL; SeaBIOS reads up to it). A strict boot
/// (QEMU's <c>-boot strict=on</c>) adds a last line <c>HALT</c>: SeaBIOS then gives up at that point instead of trying
/// the devices not listed, and OVMF, which connects only the listed devices when the file names any, drops the unlisted
/// ones from its BootOrder.
/// <para>The paths are QEMU's: the PCI root is the host bridge behind the config ports at 0xCF8 (<c>/pci@i0cf8</c>); a
/// virtio-blk function is named by its PCI class, SCSI storage (<c>scsi@SLOT</c>, hex), and the disk on it is
/// <c>disk@0,0</c>. SeaBIOS matches its own <c>/pci@i0cf8/*@SLOT</c> as a prefix of a line (boot.c
/// <c>bootprio_find_pci_device</c>); OVMF translates <c>scsi@S/disk@0,0</c> to the UEFI path prefix
/// <c>PciRoot(0x0)/Pci(0xS,0x0)</c> and matches boot options by it.</para>
/// </summary>
public static class FirmwareBootOrder
{
    public const string FileName = "bootorder";
    public const string Halt = "HALT";

    /// <summary>
    /// "etc/boot-fail-wait": how long SeaBIOS waits after "No bootable device." before it reboots, in ms as a 32-bit
    /// number; QEMU gives 0xFFFFFFFF unless <c>-boot reboot-timeout</c> says otherwise, and SeaBIOS then waits for ever
    /// (without the file it would reboot every 60 s).
    /// </summary>
    public const string BootFailWaitFileName = "etc/boot-fail-wait";

    private const string PciRoot = "/pci@i0cf8";

    /// <summary>The path of the virtio disk in PCI slot <paramref name="slot"/> of bus 0.</summary>
    public static string DiskPath(int slot) => $"{PciRoot}/scsi@{slot:x}/disk@0,0";

    /// <summary>
    /// The lines of the file for <paramref name="config"/> (normalized: every disk has its slot): a boot option ROM
    /// first when there is one (QEMU gives <c>-kernel</c>'s ROM bootindex 0), then each disk with a boot index in the
    /// order of their indexes, then <see cref="Halt"/> for a strict boot that listed anything.
    /// </summary>
    public static IReadOnlyList<string> Lines(MachineConfig config, string? firstOptionRom = null)
    {
        var lines = new List<string>();
        if (firstOptionRom is not null) lines.Add($"/rom@{firstOptionRom}");
        lines.AddRange(config.Disks
            .Where(disk => disk.BootIndex is not null)
            .OrderBy(disk => disk.BootIndex)
            .Select(disk => DiskPath(disk.Slot ?? throw new ArgumentException("the config is not normalized: a disk has no slot", nameof(config)))));
        if (config.Firmware?.StrictBoot == true && lines.Count > 0) lines.Add(Halt);
        return lines;
    }

    /// <summary>The file's bytes; null when there is nothing to say (QEMU's file is then empty, which both firmwares take as "no order").</summary>
    public static byte[]? File(MachineConfig config, string? firstOptionRom = null)
    {
        var lines = Lines(config, firstOptionRom);
        return lines.Count == 0 ? null : Encoding.ASCII.GetBytes(string.Join('\n', lines) + "\0");
    }

    /// <summary>QEMU's default "etc/boot-fail-wait": never reboot (0xFFFFFFFF, little-endian).</summary>
    public static byte[] BootFailWait() => [0xFF, 0xFF, 0xFF, 0xFF];
}
