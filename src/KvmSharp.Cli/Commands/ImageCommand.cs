using System.CommandLine;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Images.BootDisks;

namespace KvmSharp.Cli.Commands;

/// <summary>
/// <c>kvmsharp image pull [--force]</c>: builds the default guest into its cache (or says where the cached one is);
/// <c>image create|info|check</c> for disk images are in <see cref="ImageDiskCommands"/>.
/// </summary>
internal static class ImageCommand
{
    public static Command Create()
    {
        var force = new Option<bool>("--force") { Description = "Fetch the packages and build the image again even when a cached one exists" };
        var pull = new Command("pull", "Build the default guest (Debian's cloud kernel, busybox and an initramfs) into ~/.cache/kvmsharp/default-guest") { force };
        pull.SetAction(result => UserErrors.Guard(() =>
        {
            var guest = DefaultGuestImage.Ensure(DefaultGuestImage.DefaultCacheDirectory, result.GetValue(force), Console.Error.WriteLine);
            Console.WriteLine($"kernel  {guest.KernelPath}");
            Console.WriteLine($"initrd  {guest.InitrdPath}");
            Console.WriteLine($"release {guest.KernelRelease}");
            return 0;
        }));
        var distribution = new Argument<string>("system") { Description = "What to install: debian (Debian 12), or default-guest (the default guest behind GRUB)" };
        distribution.AcceptOnlyFromAmong("debian", "default-guest");
        var exec = new Option<string?>("--exec") { HelpName = "COMMAND", Description = "default-guest only: the guest runs COMMAND and powers off, as run --exec" };
        var output = new Option<string>("--out") { HelpName = "PATH", Description = "The disk to write: .qcow2 for qcow2, anything else raw", Required = true };
        var size = Parsing.Options.Size("--size", "The disk's size (default 4G)");
        var firmware = new Option<string>("--firmware")
        {
            HelpName = "bios|uefi",
            Description = "The firmware the disk is for: bios (MBR, GRUB before the first partition; the default) or uefi (GPT, GRUB on an EFI system partition)",
            DefaultValueFactory = _ => "bios",
        };
        firmware.AcceptOnlyFromAmong("bios", "uefi");
        var build = new Command("build", "Write a disk that firmware boots (run --firmware bios|uefi --disk): debian installs Debian 12 (systemd, the cloud kernel, cloud-init; needs root and Debian's package mirror)")
        {
            distribution, output, size, exec, firmware,
        };
        build.SetAction(result => UserErrors.Guard(() =>
        {
            string path = Path.GetFullPath(result.GetValue(output)!);
            var layout = result.GetValue(firmware) == "uefi" ? BootDiskLayout.Uefi : BootDiskLayout.Bios;
            if (result.GetValue(distribution) == "default-guest")
            {
                if (result.GetValue(size) is not null) throw new GuestImageException("--size: the default guest's disk has a fixed size (64M)");
                DefaultGuestDisk.Build(path, result.GetValue(exec), Console.Error.WriteLine, layout);
                return 0;
            }
            if (result.GetValue(exec) is not null) throw new GuestImageException("--exec is for default-guest; a Debian image boots to its login prompt");
            DebianImage.Build(path, result.GetValue(size) ?? DebianImage.DefaultSize, Console.Error.WriteLine, layout);
            return 0;
        }));
        var userData = new Option<FileInfo>("--user-data") { HelpName = "FILE", Description = "cloud-init's user-data (#cloud-config …)", Required = true };
        var metaData = new Option<FileInfo?>("--meta-data") { HelpName = "FILE", Description = "cloud-init's meta-data (default: a fresh instance-id)" };
        var seedOut = new Option<string>("--out") { HelpName = "PATH", Description = "The seed ISO to write", Required = true };
        var seed = new Command("cloud-init", "Write a cloud-init NoCloud seed (ISO 9660 labelled cidata) to attach as a read-only disk, e.g. in a domain's XML")
        {
            userData, metaData, seedOut,
        };
        seed.SetAction(result => UserErrors.Guard(() =>
        {
            CloudInitSeed.Write(Path.GetFullPath(result.GetValue(seedOut)!), result.GetValue(userData)!.FullName, result.GetValue(metaData)?.FullName);
            return 0;
        }));
        var image = new Command("image", "The default guest image, and disk images for --disk") { pull, build, seed };
        foreach (var command in ImageDiskCommands.Create()) image.Subcommands.Add(command);
        return image;
    }
}
