using KvmSharp.Machine.Images;
using KvmSharp.Machine.Images.BootDisks;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// A BIOS-bootable raw disk built once for the class: GRUB from Debian's grub-pc-bin and grub-common (unpacked, not
/// installed) in the MBR, and an ext4 partition holding the default guest's kernel and initramfs and a grub.cfg that
/// boots them with the default guest's command line.
/// </summary>
public sealed class GrubDiskFixture : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-grubdisk").FullName;

    public GrubDiskFixture()
    {
        var guest = DefaultGuestImage.Ensure(DefaultGuestImage.DefaultCacheDirectory, force: false, _ => { });
        var grub = GrubPc.Ensure(DefaultGuestImage.DefaultCacheDirectory, _ => { });
        string root = Path.Combine(_dir, "root");
        Directory.CreateDirectory(Path.Combine(root, "boot", "grub"));
        File.Copy(guest.KernelPath, Path.Combine(root, "boot", "vmlinuz"));
        File.Copy(guest.InitrdPath, Path.Combine(root, "boot", "initrd.img"));
        File.WriteAllText(Path.Combine(root, "boot", "grub", "grub.cfg"),
            GrubMenu.SerialSingleEntry("kvmsharp default guest", "/boot/vmlinuz", "/boot/initrd.img", DefaultGuestCommandLine.Shell()));
        DiskPath = Path.Combine(_dir, "disk.raw");
        BiosBootDisk.Write(DiskPath, 64UL << 20, root, grub, _ => { });
    }

    public string DiskPath { get; }

    /// <summary>A path for a file of the test's own, removed with the fixture.</summary>
    public string TemporaryPath(string name) => Path.Combine(_dir, name);

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
