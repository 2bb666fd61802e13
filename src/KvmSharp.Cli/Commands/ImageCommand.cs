using System.CommandLine;
using KvmSharp.Machine.Images;

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
        var image = new Command("image", "The default guest image, and disk images for --disk") { pull };
        foreach (var command in ImageDiskCommands.Create()) image.Subcommands.Add(command);
        return image;
    }
}
