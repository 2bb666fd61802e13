using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Images.BootDisks;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// A UEFI PC's whole boot on the software CPU: OVMF from the reset vector enumerates PCI and places the BARs (the
/// virtio disk's 64-bit BAR above 4 GiB), takes the disk fw_cfg's bootorder names, finds no boot variable and takes the disk's removable-media path
/// \EFI\BOOT\BOOTX64.EFI from the GPT's EFI system partition (FAT), which is GRUB; GRUB reads its menu and the kernel
/// from the ext4 partition and starts Linux through its EFI stub; the guest sees EFI and our ACPI tables (installed
/// by OVMF from fw_cfg), runs its command and powers the machine off through ACPI.
/// </summary>
public class UefiGrubBootTests
{
    [Fact]
    public void OvmfBootsGrubFromTheEfiSystemPartitionIntoLinuxWhichSeesEfiAndAcpiAndPowersOff()
    {
        Assert.SkipUnless(File.Exists(FirmwareConfig.DebianOvmfCode), "Debian's ovmf package is not installed");
        string dir = Directory.CreateTempSubdirectory("kvmsharp-uefi-grub").FullName;
        try
        {
            string disk = Path.Combine(dir, "disk.raw");
            DefaultGuestDisk.Build(disk, "ls /sys/firmware/efi /sys/firmware/acpi/tables", _ => { }, BootDiskLayout.Uefi);
            // A blank data disk first on the bus (slot 2) and the boot disk (slot 3) given boot index 1: OVMF reads fw_cfg's
            // bootorder, connects only the listed disk and makes it Boot0001 (without the order the blank disk would be
            // Boot0001, tried first, and the boot disk Boot0002).
            string blank = Path.Combine(dir, "blank.raw");
            File.WriteAllBytes(blank, new byte[1 << 20]);
            var console = new CapturingConsole();
            var config = new MachineConfig
            {
                Firmware = new FirmwareConfig(FirmwareKind.Uefi) { StrictBoot = true },
                MemorySize = 256UL << 20,
                Disks = [new DiskConfig(blank, DiskFormat.Raw), new DiskConfig(disk, DiskFormat.Raw) { BootIndex = 1 }],
            };
            using var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(_ => { })).Build();
            machine.Start();
            bool ended = machine.Exit.Wait(TimeSpan.FromMinutes(5), TestContext.Current.CancellationToken);
            if (!ended) machine.Stop();
            string output = console.Output;
            Assert.True(ended, $"the guest did not power off; the console showed:\n{(output.Length > 4000 ? output[^4000..] : output)}");
            Assert.Equal(MachineExitReason.PowerOff, machine.Exit.Result.Reason);
            Assert.Contains("BdsDxe: starting Boot0001 \"UEFI Misc Device\" from PciRoot(0x0)/Pci(0x3,0x0)", output);
            Assert.DoesNotMatch(@"(starting|loading) Boot[0-9A-F]{4} [^\n]*Pci\(0x2,0x0\)", output);
            Assert.Contains("Booting `kvmsharp default guest'", output);
            foreach (string entry in new[] { "efivars", "systab", "FACP", "APIC", "DSDT", "MCFG" }) Assert.Contains(entry, output);
            Assert.Contains("reboot: Power down", output);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
