namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>
/// A raw disk a PC BIOS boots, made without loop devices, mounts or root: GRUB's boot.img as the MBR's code, GRUB's
/// core.img (grub-mkimage: the modules to read an MBR-partitioned ext4 disk through the BIOS and boot Linux) in the
/// sectors after it, and one ext4 partition from 1 MiB to the end, filled from a directory by <c>mkfs.ext4 -d</c>
/// writing straight into the image at that offset (<c>-E offset=</c>).
/// <para>No grub-bios-setup is needed: boot.img loads sector 1 by default and the blocklist grub-mkimage leaves in
/// core.img's first sector reads the rest from sector 2 on, which is where core.img is written.</para>
/// </summary>
public static class BiosBootDisk
{
    public const uint FirstPartitionSector = 2048;
    private const int Sector = 512;

    /// <summary>The GRUB modules core.img holds: disk and partition access, ext4, the menu, Linux, the serial terminal.</summary>
    public static readonly string[] CoreModules =
        ["biosdisk", "part_msdos", "ext2", "normal", "linux", "serial", "terminal", "echo", "test", "configfile", "search", "gzio"];

    /// <summary>
    /// Writes the disk to <paramref name="output"/> (replaced), <paramref name="size"/> bytes, its partition's files
    /// from <paramref name="rootDirectory"/>; GRUB reads its menu from /boot/grub/grub.cfg in that partition.
    /// </summary>
    public static void Write(string output, ulong size, string rootDirectory, Grub grub, Action<string> progress)
    {
        const ulong partitionStart = (ulong)FirstPartitionSector * Sector;
        if (size < partitionStart + (16UL << 20) || size % Sector != 0)
            throw new GuestImageException($"a boot disk needs at least {(partitionStart + (16UL << 20)) >> 20} MiB in whole sectors; {size} bytes were asked for");
        string work = Directory.CreateTempSubdirectory("kvmsharp-bootdisk").FullName;
        try
        {
            string core = Path.Combine(work, "core.img");
            progress("kvmsharp: making GRUB's core image (grub-mkimage)");
            grub.MakeImage(core, "(hd0,msdos1)/boot/grub", CoreModules);
            byte[] coreImage = File.ReadAllBytes(core);
            if ((ulong)coreImage.Length > partitionStart - Sector)
                throw new GuestImageException($"GRUB's core image has {coreImage.Length} bytes, more than fit before the partition at 1 MiB");
            byte[] boot = File.ReadAllBytes(grub.BootImage);
            if (boot.Length != Sector) throw new GuestImageException($"{grub.BootImage} has {boot.Length} bytes; GRUB's boot.img is one sector");

            if (File.Exists(output)) File.Delete(output);
            using (var file = File.Create(output)) file.SetLength((long)size);
            progress($"kvmsharp: writing the ext4 partition ({(size - partitionStart) >> 20} MiB) from {rootDirectory}");
            HostTool.Run("mkfs.ext4", ["-q", "-F", "-L", "root", "-E", $"offset={partitionStart}", "-d", rootDirectory, output, $"{(size - partitionStart) / 1024}k"], "mkfs.ext4 is in Debian's e2fsprogs package");

            var mbr = new byte[Sector];
            boot.AsSpan(0, MbrPartitionTable.EntriesOffset - 6).CopyTo(mbr);   // the code; the disk signature stays 0
            MbrPartitionTable.WriteSingle(mbr, FirstPartitionSector, checked((uint)((size - partitionStart) / Sector)));
            using var handle = File.OpenHandle(output, FileMode.Open, FileAccess.Write);
            RandomAccess.Write(handle, mbr, 0);
            RandomAccess.Write(handle, coreImage, Sector);
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }
}
