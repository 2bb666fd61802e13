namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>
/// A raw disk that UEFI firmware boots, made without loop devices, mounts or root: a GPT with an EFI system
/// partition (FAT, <c>mkfs.fat</c> and <c>mcopy</c> writing into a file) holding GRUB as the removable-media boot path
/// <c>\EFI\BOOT\BOOTX64.EFI</c> (UEFI 2.10 §3.5.1.1, which firmware tries without any boot variable), and an ext4 root
/// partition filled from a directory by <c>mkfs.ext4 -d</c>, as on <see cref="BiosBootDisk"/>. GRUB's prefix names
/// the root partition, so the same /boot/grub/grub.cfg serves both firmware kinds.
/// </summary>
public static class UefiBootDisk
{
    public const ulong EspFirstLba = 2048, EspSectors = (32UL << 20) / GptPartitionTable.Sector;
    public const ulong RootFirstLba = EspFirstLba + EspSectors;
    private const ulong Alignment = 2048;

    /// <summary>The GRUB modules BOOTX64.EFI holds: GPT, FAT and ext4, the menu, Linux, the serial terminal.</summary>
    public static readonly string[] EfiModules =
        ["part_gpt", "part_msdos", "fat", "ext2", "normal", "linux", "serial", "terminal", "echo", "test", "configfile", "search", "gzio"];

    public static void Write(string output, ulong size, string rootDirectory, Grub grub, Action<string> progress)
    {
        const int sector = GptPartitionTable.Sector;
        ulong sectors = size / sector;
        ulong rootLastLba = GptPartitionTable.LastUsableLba(sectors) / Alignment * Alignment - 1;
        if (size % sector != 0 || rootLastLba < RootFirstLba + (16UL << 20) / sector)
            throw new GuestImageException($"a UEFI boot disk needs at least {((RootFirstLba + Alignment) * sector + (16UL << 20)) >> 20} MiB in whole sectors; {size} bytes were asked for");
        ulong rootBytes = (rootLastLba + 1 - RootFirstLba) * sector;
        string work = Directory.CreateTempSubdirectory("kvmsharp-uefidisk").FullName;
        try
        {
            progress("kvmsharp: making GRUB's EFI application (grub-mkimage)");
            string bootx64 = Path.Combine(work, "BOOTX64.EFI");
            grub.MakeImage(bootx64, "(hd0,gpt2)/boot/grub", EfiModules);
            progress("kvmsharp: writing the EFI system partition (mkfs.fat, mcopy)");
            string esp = Path.Combine(work, "esp.img");
            HostTool.Run("mkfs.fat", ["-C", "-n", "ESP", esp, (EspSectors * sector / 1024).ToString()], "mkfs.fat is in Debian's dosfstools package");
            HostTool.Run("mmd", ["-i", esp, "::/EFI", "::/EFI/BOOT"], "mmd is in Debian's mtools package");
            HostTool.Run("mcopy", ["-i", esp, bootx64, "::/EFI/BOOT/BOOTX64.EFI"], "mcopy is in Debian's mtools package");

            if (File.Exists(output)) File.Delete(output);
            using (var file = File.Create(output)) file.SetLength((long)size);
            progress($"kvmsharp: writing the ext4 partition ({rootBytes >> 20} MiB) from {rootDirectory}");
            HostTool.Run("mkfs.ext4", ["-q", "-F", "-L", "root", "-E", $"offset={RootFirstLba * sector}", "-d", rootDirectory, output, $"{rootBytes / 1024}k"],
                "mkfs.ext4 is in Debian's e2fsprogs package");

            using var disk = File.OpenHandle(output, FileMode.Open, FileAccess.ReadWrite);
            RandomAccess.Write(disk, File.ReadAllBytes(esp), (long)(EspFirstLba * sector));
            GptPartitionTable.Write(disk, sectors, Guid.NewGuid(),
            [
                new GptPartition(GptPartitionTable.EfiSystemPartition, Guid.NewGuid(), EspFirstLba, RootFirstLba - 1, "EFI system partition"),
                new GptPartition(GptPartitionTable.LinuxFilesystem, Guid.NewGuid(), RootFirstLba, rootLastLba, "root"),
            ]);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
