using System.Diagnostics;

namespace KvmSharp.Machine.Images.BootDisks;

/// <summary>
/// <c>kvmsharp image build debian</c>: a bootable Debian 12 disk from Debian's packages. mmdebstrap (Debian's
/// package, installed when missing) builds the root filesystem in a directory: systemd, the cloud kernel and its
/// initramfs, cloud-init (NoCloud first, so a CIDATA disk configures it and no network datasource is waited for).
/// Then <see cref="BootDisk"/> writes GRUB (MBR for a BIOS, an EFI system partition for UEFI) and the ext4 partition (no loop device, no mount), and the raw disk
/// is copied into a qcow2 image by our own writer, leaving zero clusters unallocated. The kernel's console is the
/// first serial port, where systemd starts a login prompt.
/// <para>Needs root: mmdebstrap's root mode keeps file owners without fakeroot, and mkfs.ext4 -d copies them.</para>
/// </summary>
public static class DebianImage
{
    public const string Suite = "bookworm";
    public const ulong DefaultSize = 4UL << 30;

    /// <summary>The recipe's revision: raised whenever what <see cref="Build"/> writes changes, so a cache of built
    /// images (the long test's) knows its copy is stale.</summary>
    public const int Recipe = 4;

    /// <summary>Packages beyond Debian's "important" set: what boots on our machine and what cloud images have.</summary>
    public static readonly string[] Packages =
        ["systemd-sysv", "udev", "linux-image-cloud-amd64", "initramfs-tools", "e2fsprogs", "ifupdown", "isc-dhcp-client", "cloud-init", "openssh-server"];

    /// <summary>The kernel command line GRUB boots: root by label (the partition we write), console on COM1.</summary>
    public const string CommandLine = "root=LABEL=root ro console=ttyS0,115200 earlyprintk=ttyS0";

    public static void Build(string output, ulong size, Action<string> progress, BootDiskLayout layout = BootDiskLayout.Bios)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new GuestImageException("image build debian needs root (mmdebstrap keeps file owners in its root mode); run it with sudo");
        EnsureTool("mmdebstrap", "mmdebstrap", progress);
        EnsureTool("mkfs.ext4", "e2fsprogs", progress);
        string work = Directory.CreateTempSubdirectory("kvmsharp-debian").FullName;
        try
        {
            string root = Path.Combine(work, "root");
            progress($"kvmsharp: installing Debian 12 ({Suite}) into a directory with mmdebstrap (a few minutes)");
            var watch = Stopwatch.StartNew();
            // No mirror argument: mmdebstrap's default, Debian's own (deb.debian.org).
            HostTool.Run("mmdebstrap", ["--mode=root", "--variant=important", $"--include={string.Join(',', Packages)}", Suite, root], "install Debian's mmdebstrap package", progress);
            progress($"kvmsharp: Debian installed in {watch.Elapsed.TotalSeconds:F0} s");
            Configure(root);
            BootDisk.WriteImage(output, size, root, layout, progress);
            progress($"kvmsharp: {output} is ready: kvmsharp run --firmware {(layout == BootDiskLayout.Bios ? "bios" : "uefi")} --disk {output}");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>The files a first boot needs that mmdebstrap does not write.</summary>
    private static void Configure(string root)
    {
        File.WriteAllText(Path.Combine(root, "etc", "fstab"), "LABEL=root / ext4 errors=remount-ro 0 1\n");
        File.WriteAllText(Path.Combine(root, "etc", "hostname"), "debian\n");
        File.WriteAllText(Path.Combine(root, "etc", "hosts"), "127.0.0.1 localhost\n127.0.1.1 debian\n");
        string cloud = Path.Combine(root, "etc", "cloud", "cloud.cfg.d");
        Directory.CreateDirectory(cloud);
        // NoCloud (a CIDATA disk: kvmsharp run --cloud-init) or nothing, never a network datasource to wait for. The
        // first boot makes new host keys: Ed25519 and ECDSA, not RSA-3072 and DSA, whose prime searches take minutes
        // on the software CPU; and C.UTF-8, which needs no locale-gen.
        File.WriteAllText(Path.Combine(cloud, "90-kvmsharp.cfg"), """
            # KvmSharp's image: see DebianImage.Configure
            datasource_list: [ NoCloud, None ]
            ssh_genkeytypes: [ ed25519, ecdsa ]
            locale: C.UTF-8

            """);
        // systemd's 90 s default for a device or a start job is short for a first boot on the software CPU under load
        // (udevd's first start and /dev/ttyS0 were seen to miss it, and the serial getty with them).
        string systemConf = Path.Combine(root, "etc", "systemd", "system.conf.d");
        Directory.CreateDirectory(systemConf);
        File.WriteAllText(Path.Combine(systemConf, "90-kvmsharp.conf"), "[Manager]\nDefaultTimeoutStartSec=10min\nDefaultDeviceTimeoutSec=10min\n");
        // login(1) gives up 60 s after the name; checking a yescrypt password under load on the software CPU took longer.
        string loginDefs = Path.Combine(root, "etc", "login.defs");
        if (File.Exists(loginDefs))
            File.WriteAllText(loginDefs, System.Text.RegularExpressions.Regex.Replace(File.ReadAllText(loginDefs), @"(?m)^LOGIN_TIMEOUT\s+\d+", "LOGIN_TIMEOUT\t600"));
        // A login prompt on COM1 whatever systemd's generators decide (without dbus and logind, Debian's getty-static
        // starts only tty1-6): serial-getty@ttyS0 wanted by getty.target, as `systemctl enable` would link it.
        string wants = Path.Combine(root, "etc", "systemd", "system", "getty.target.wants");
        Directory.CreateDirectory(wants);
        string serialGetty = Path.Combine(wants, "serial-getty@ttyS0.service");
        if (!File.Exists(serialGetty)) File.CreateSymbolicLink(serialGetty, "/lib/systemd/system/serial-getty@.service");
        string grubDirectory = Path.Combine(root, "boot", "grub");
        Directory.CreateDirectory(grubDirectory);
        // Debian keeps /vmlinuz and /initrd.img as links to the newest kernel; GRUB's ext2 reader follows them.
        File.WriteAllText(Path.Combine(grubDirectory, "grub.cfg"), GrubMenu.SerialSingleEntry("Debian GNU/Linux 12", "/vmlinuz", "/initrd.img", CommandLine));
    }

    private static void EnsureTool(string tool, string package, Action<string> progress)
    {
        if (File.Exists($"/usr/bin/{tool}") || File.Exists($"/usr/sbin/{tool}") || File.Exists($"/sbin/{tool}")) return;
        progress($"kvmsharp: installing Debian's {package} package (for {tool})");
        HostTool.Run("apt-get", ["install", "-y", "-q", package], "apt-get installs Debian's packages");
    }
}
