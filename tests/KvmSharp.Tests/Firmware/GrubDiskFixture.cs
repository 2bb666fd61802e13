using KvmSharp.Machine.Images.BootDisks;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// A BIOS-bootable raw disk built once for the class by <c>kvmsharp image build default-guest</c>'s code: GRUB from
/// Debian's grub-pc-bin and grub-common (unpacked, not installed) in the MBR, and an ext4 partition holding the
/// default guest's kernel and initramfs and a grub.cfg that boots them with the default guest's command line.
/// </summary>
public sealed class GrubDiskFixture : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-grubdisk").FullName;

    public GrubDiskFixture()
    {
        DiskPath = Path.Combine(_dir, "disk.raw");
        DefaultGuestDisk.Build(DiskPath, execCommand: null, _ => { });
    }

    public string DiskPath { get; }

    /// <summary>A path for a file of the test's own, removed with the fixture.</summary>
    public string TemporaryPath(string name) => Path.Combine(_dir, name);

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
