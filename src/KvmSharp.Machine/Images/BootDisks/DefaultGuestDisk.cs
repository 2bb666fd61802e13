namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>
/// <c>kvmsharp image build default-guest</c>: the default guest (its kernel and initramfs) on a disk that firmware
/// boots through GRUB (a BIOS through the MBR, UEFI from the EFI system partition), for trying firmware boot without
/// installing a distribution (no root needed). With a command, the guest runs it and powers off, as <c>run --exec</c> does.
/// </summary>
public static class DefaultGuestDisk
{
    public const ulong Size = 64UL << 20;

    public static void Build(string output, string? execCommand, Action<string> progress, BootDiskLayout layout = BootDiskLayout.Bios)
    {
        string commandLine = execCommand is null ? DefaultGuestCommandLine.Shell() : DefaultGuestCommandLine.Exec(execCommand);
        var guest = DefaultGuestImage.Ensure(DefaultGuestImage.DefaultCacheDirectory, force: false, progress);
        string root = Directory.CreateTempSubdirectory("kvmsharp-guestdisk").FullName;
        try
        {
            Directory.CreateDirectory(Path.Combine(root, "boot", "grub"));
            File.Copy(guest.KernelPath, Path.Combine(root, "boot", "vmlinuz"));
            File.Copy(guest.InitrdPath, Path.Combine(root, "boot", "initrd.img"));
            File.WriteAllText(Path.Combine(root, "boot", "grub", "grub.cfg"),
                GrubMenu.SerialSingleEntry("kvmsharp default guest", "/boot/vmlinuz", "/boot/initrd.img", commandLine));
            BootDisk.WriteImage(output, Size, root, layout, progress);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }
}
