using KvmSharp.Machine.Config;
using KvmSharp.Storage;
using static KvmSharp.Native.Sandbox.LandlockConstants;

namespace KvmSharp.Machine.Sandbox;

/// <summary>
/// The files a confined VMM may still reach (its Landlock rules): the machine's own files, which a guest reset
/// opens again (kernel, initrd, firmware, variable store, disk images and their backing chains, the virtio-fs
/// share, the vsock and console sockets' folders), the API socket's folder (where snapshot and migration files
/// named through the API must lie: their paths are not known when the sandbox closes), and what the process
/// needs to run (/proc/self, /dev/kvm, /dev/net/tun, /dev/null, /dev/urandom, /dev/pts, the CPU and cgroup facts
/// the runtime reads).
/// </summary>
public static class SandboxPaths
{
    private const ulong Read = ReadFile;
    private const ulong ReadWrite = ReadFile | WriteFile | Truncate;
    private const ulong Device = ReadFile | WriteFile | IoctlDev;

    /// <summary>Everything beneath a folder the VMM writes in, short of running programs or making device nodes.</summary>
    private const ulong Folder = ReadFile | WriteFile | Truncate | ReadDir | RemoveDir | RemoveFile | MakeDir | MakeReg | MakeSock
                                 | MakeFifo | MakeSym | Refer | IoctlDev;

    public static IReadOnlyList<LandlockRule> For(MachineConfig config, string? apiSocket)
    {
        var rules = new List<LandlockRule>
        {
            new("/proc/self", ReadFile | WriteFile | ReadDir),   // opened through the link: the rule lands on /proc/PID
            new("/proc/sys/kernel", Read),
            new("/proc/meminfo", Read),   // the GC's memory load
            new("/proc/stat", Read),
            new("/proc/cpuinfo", Read),
            new("/sys/devices/system/cpu", Read | ReadDir),
            new("/sys/fs/cgroup", Read | ReadDir),
            new("/dev/kvm", Device),
            new("/dev/net/tun", Device),
            new("/dev/null", ReadFile | WriteFile),
            new("/dev/urandom", Read),
            new("/dev/pts", Device),
            // Shared libraries the runtime may still load (read only: mapping a library needs no execute right).
            new("/usr/lib", Read | ReadDir),
            new("/lib", Read | ReadDir),
            new("/lib64", Read | ReadDir),
            new("/etc/ld.so.cache", Read),
            new("/etc/ssl", Read | ReadDir),
        };
        if (config.Kernel is { } kernel)
        {
            rules.Add(new(kernel.Path, Read));
            if (kernel.InitrdPath is { } initrd) rules.Add(new(initrd, Read));
        }
        if (config.Firmware is { } firmware)
        {
            // The firmware images come from Debian's packages under /usr/share unless named (seabios, ovmf, qemu's option ROMs).
            rules.Add(new(firmware.ImagePath ?? "/usr/share", Read | ReadDir));
            if (firmware.VarsPath is { } vars) rules.Add(new(vars, ReadWrite));
            if (firmware.VarsTemplatePath is { } template) rules.Add(new(template, Read));
        }
        foreach (var disk in config.Disks)
        {
            rules.Add(new(disk.Path, disk.ReadOnly ? Read : ReadWrite));
            foreach (string backing in BackingChain(disk.Path)) rules.Add(new(backing, Read));
        }
        foreach (var share in config.Filesystems)
            rules.Add(new(share.Path, share.ReadOnly ? Read | ReadDir : Folder));
        if (config.Vsock is { } vsock) rules.Add(new(FolderOf(vsock.UdsPath), Folder));
        foreach (string? socket in (string?[])[config.Console.SocketPath, config.VirtioConsole?.SocketPath, apiSocket])
            if (socket is not null) rules.Add(new(FolderOf(socket), Folder));
        foreach (string folder in Devices.ProcessOwnedFolders.Current) rules.Add(new(folder, Folder));
        return rules;
    }

    /// <summary>The backing files of a qcow2 image, nearest first (at most 16, as the opener allows); none for raw or unreadable images.</summary>
    private static IEnumerable<string> BackingChain(string path)
    {
        for (int depth = 0; depth < 16; depth++)
        {
            string? backing;
            try
            {
                backing = ImageInfo.Inspect(path).BackingFile;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                yield break;
            }
            if (backing is null) yield break;
            path = Path.IsPathRooted(backing) ? backing : Path.Combine(Path.GetDirectoryName(path) ?? "/", backing);
            yield return path;
        }
    }

    private static string FolderOf(string path) => Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/";
}
