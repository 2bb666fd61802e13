using KvmSharp.Boot;
using KvmSharp.Boot.Cpu;
using KvmSharp.Boot.Linux;
using KvmSharp.Boot.Multiboot;
using KvmSharp.Machine.Config;
using KvmSharp.Memory;

namespace KvmSharp.Machine.Runtime;

/// <summary>Recognises the kernel file (multiboot or Linux bzImage) and loads it with the matching loader.</summary>
internal static class KernelLoader
{
    /// <summary>Kernels larger than this are surely not kernels (and would not fit a sane guest).</summary>
    private const long MaxImageSize = 1L << 30;

    public static BootCpuState Load(GuestMemory memory, KernelConfig kernel, ulong rsdpAddress) =>
        Load(memory, ReadImage(kernel.Path, "kernel"), kernel.InitrdPath is { } p ? ReadImage(p, "initrd") : [], kernel.CommandLine, rsdpAddress);

    public static BootCpuState Load(GuestMemory memory, byte[] image, byte[] initrd, string commandLine, ulong rsdpAddress)
    {
        if (MultibootLoader.IsMultiboot(image))
        {
            var modules = initrd.Length > 0 ? new[] { new MultibootModule(initrd, "initrd") } : [];
            return MultibootLoader.Load(memory, image, commandLine, modules);
        }
        return LinuxLoader.Load(memory, image, initrd, commandLine, rsdpAddress);
    }

    private static byte[] ReadImage(string path, string what)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists) throw new BootImageException($"{what} '{path}' does not exist");
            if (info.Length > MaxImageSize) throw new BootImageException($"{what} '{path}' is {info.Length >> 20} MiB: too large to be a {what}");
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new BootImageException($"cannot read {what} '{path}': {e.Message}");
        }
    }
}
