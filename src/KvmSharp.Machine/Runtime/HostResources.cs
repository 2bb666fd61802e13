using KvmSharp.Machine.Config;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// The files a config names, checked on this host just before the build (validation never touches the file system:
/// a config may be checked where it will not run). Each problem names the field, as validation's do, so a missing
/// file is one line in the words of whoever wrote the config.
/// </summary>
internal static class HostResources
{
    public static IReadOnlyList<ConfigProblem> Problems(MachineConfig config)
    {
        var problems = new List<ConfigProblem>();
        if (config.Kernel is { } kernel && !File.Exists(kernel.Path))
            problems.Add(new("kernel.path", $"'{E(kernel.Path)}' does not exist"));
        if (config.Kernel?.InitrdPath is { } initrd && !File.Exists(initrd))
            problems.Add(new("kernel.initrd_path", $"'{E(initrd)}' does not exist"));
        if (config.Firmware is { } firmware && !File.Exists(firmware.Image))
            problems.Add(new("firmware.image_path", firmware.ImagePath is null
                ? $"'{E(firmware.Image)}' does not exist (install Debian's {firmware.Package} package)"
                : $"'{E(firmware.Image)}' does not exist"));
        if (config.Firmware is { Kind: FirmwareKind.Uefi } uefi)
        {
            if (uefi.VarsPath is null || !File.Exists(uefi.VarsPath))
            {
                if (!File.Exists(uefi.VarsTemplate))
                    problems.Add(new("firmware.vars_template_path", uefi.VarsTemplatePath is null
                        ? $"'{E(uefi.VarsTemplate)}' does not exist (install Debian's ovmf package)"
                        : $"'{E(uefi.VarsTemplate)}' does not exist"));
                if (uefi.VarsPath is { } vars && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(vars))))
                    problems.Add(new("firmware.vars_path", $"the directory of '{E(vars)}' does not exist"));
            }
        }
        if (config.Firmware is { Kind: FirmwareKind.Bios } && config.Kernel is not null && !File.Exists(FirmwareBoot.LinuxBootRom))
            problems.Add(new("kernel", $"a kernel started by firmware needs '{FirmwareBoot.LinuxBootRom}' (install Debian's qemu-system-data package)"));
        for (int i = 0; i < config.Disks.Count; i++)
            if (!File.Exists(config.Disks[i].Path))
                problems.Add(new($"disks[{i}].path", $"'{E(config.Disks[i].Path)}' does not exist"));
        if (config.Vsock is { } vsock && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(vsock.UdsPath))))
            problems.Add(new("vsock.uds_path", $"the directory of uds '{E(vsock.UdsPath)}' does not exist"));
        for (int i = 0; i < config.Filesystems.Count; i++)
            if (!Directory.Exists(config.Filesystems[i].Path))
                problems.Add(new($"filesystems[{i}].path", $"'{E(config.Filesystems[i].Path)}' is not a folder on this host"));
        return problems;
    }

    private static string E(string value) => ConfigProblem.Escape(value);
}
