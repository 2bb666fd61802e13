using System.CommandLine;
using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;
using KvmSharp.Storage;

namespace KvmSharp.Cli.Commands;

/// <summary>
/// <c>kvmsharp image create|info|check</c>: disk images for --disk. create writes an empty raw or qcow2
/// (version 3) image, optionally a copy-on-write overlay on a backing file; info shows what an image is;
/// check verifies a qcow2 image's refcounts as qemu-img check does and exits 2 on corruption.
/// </summary>
internal static class ImageDiskCommands
{
    public const int ExitCorrupt = 2;

    public static IEnumerable<Command> Create() => [CreateCommand(), InfoCommand(), CheckCommand()];

    private static Command CreateCommand()
    {
        var path = new Argument<string>("path") { Description = "The image to create (must not exist)" };
        var size = new Argument<string?>("size") { Description = "Virtual size, e.g. 10G or 512M (default with --backing: the backing image's size)", Arity = ArgumentArity.ZeroOrOne };
        var format = new Option<string>("--format") { HelpName = "qcow2|raw", Description = "Image format (default qcow2)", DefaultValueFactory = _ => "qcow2" };
        var backing = new Option<string?>("--backing") { HelpName = "FILE", Description = "A backing image: the new qcow2 image starts as a copy-on-write overlay on it (relative names are relative to the new image)" };
        var command = new Command("create", "Create an empty disk image") { path, size, format, backing };
        command.SetAction(result => UserErrors.Guard(() =>
        {
            string file = result.GetValue(path)!;
            string? backingFile = result.GetValue(backing);
            long bytes = ImageSize(result.GetValue(size), file, backingFile);
            switch (result.GetValue(format))
            {
                case "qcow2":
                    try
                    {
                        Qcow2Creator.Create(file, bytes, backingFile: backingFile);
                    }
                    catch (ArgumentException e)   // a size or backing name the format cannot hold
                    {
                        throw new MachineConfigException($"image create: {e.Message}");
                    }
                    break;
                case "raw" when backingFile is not null:
                    throw new MachineConfigException("--backing needs --format qcow2 (a raw image cannot have a backing file)");
                case "raw":
                    using (var stream = new FileStream(file, FileMode.CreateNew, FileAccess.Write)) stream.SetLength(bytes);
                    break;
                case var other:
                    throw new MachineConfigException($"--format {other}: use qcow2 or raw");
            }
            return 0;
        }));
        return command;
    }

    private static long ImageSize(string? text, string file, string? backingFile)
    {
        if (text is null)
        {
            if (backingFile is null) throw new MachineConfigException("image create: give a size (e.g. 10G), or --backing FILE to take its size");
            using var backing = DiskImage.Open(DiskImage.ResolveBacking(file, backingFile), null, readOnly: true);
            return backing.Size;
        }
        if (!ValueParsers.TryParseSize(text, out ulong bytes) || bytes > 1UL << 50)
            throw new MachineConfigException($"image create: '{text}' is not a size up to 1P; use a number with K, M or G (e.g. 10G)");
        return (long)bytes;
    }

    private static Command InfoCommand()
    {
        var path = new Argument<string>("path") { Description = "A raw or qcow2 image" };
        var command = new Command("info", "Show an image's format, sizes and backing file") { path };
        command.SetAction(result => UserErrors.Guard(() =>
        {
            var info = ImageInfo.Inspect(result.GetValue(path)!);
            Console.WriteLine($"format:       {info.Format}");
            Console.WriteLine($"virtual size: {info.VirtualSize} bytes ({info.VirtualSize / (1024.0 * 1024 * 1024):0.###} GiB)");
            Console.WriteLine($"file size:    {info.FileSize} bytes");
            if (info.ClusterSize is { } cluster) Console.WriteLine($"cluster size: {cluster}");
            if (info.BackingFile is { } b) Console.WriteLine($"backing file: {b}{(info.BackingFormat is { } f ? $" ({f})" : "")}");
            Console.WriteLine($"allocated:    {info.AllocatedBytes} bytes");
            return 0;
        }));
        return command;
    }

    private static Command CheckCommand()
    {
        var path = new Argument<string>("path") { Description = "A qcow2 image" };
        var repair = new Option<bool>("--repair") { Description = "Give leaked clusters back (refcounts recomputed from the tables); not while a VM uses the image" };
        var command = new Command("check", $"Check a qcow2 image's refcounts (exit {ExitCorrupt} on corruption; leaks only warn)") { path, repair };
        command.SetAction(result => UserErrors.Guard(() =>
        {
            string file = result.GetValue(path)!;
            if (DiskImage.Probe(file) != "qcow2")
                throw new MachineConfigException($"'{file}' is not a qcow2 image (raw images have no metadata to check)");
            var check = Qcow2Check.Run(file);
            foreach (var line in check.Problems) Console.WriteLine(line);
            if (result.GetValue(repair) && check.Leaks > 0)
            {
                (check, long repaired) = Qcow2Check.RepairLeaks(file);
                Console.WriteLine($"Repaired {repaired} leaked clusters (their refcounts lowered to the references found).");
                foreach (var line in check.Problems) Console.WriteLine(line);
            }
            if (check.Corruptions + check.Leaks == 0) Console.WriteLine("No errors were found on the image.");
            else Console.WriteLine($"{check.Corruptions} corruptions and {check.Leaks} leaked clusters were found on the image.");
            return check.Corruptions > 0 ? ExitCorrupt : 0;
        }));
        return command;
    }
}
