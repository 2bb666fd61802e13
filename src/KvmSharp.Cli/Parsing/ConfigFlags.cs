using KvmSharp.Machine.Config;

namespace KvmSharp.Cli.Parsing;

/// <summary>
/// Says a <see cref="ConfigProblem"/> in the words of <c>kvmsharp run</c>'s flags: the config's field
/// <c>memory_size</c> is <c>--memory</c>, <c>disks[1].path</c> is <c>--disk</c>, and so on, so a mistake made with a
/// flag is reported against that flag ("--memory must be between 1M and 1024G").
/// </summary>
public static class ConfigFlags
{
    public static string Describe(ConfigProblem problem) => $"{Subject(problem.Field)} {problem.Describe(FlagOf)}";

    /// <summary>The flag that sets <paramref name="field"/> (a JSON path); the field itself where no flag does.</summary>
    public static string FlagOf(string field) => field switch
    {
        "kernel.initrd_path" => "--initrd",
        "kernel.command_line" => "--cmdline",
        "firmware.vars_path" => "--firmware-vars",
        "firmware.strict_boot" => "--boot-strict",
        _ => Root(field) switch
        {
            "memory_size" => "--memory",
            "vcpu_count" => "--cpus",
            "kernel" => "--kernel",
            "accelerator" => "--accel",
            "legacy_timer" => "--no-pit",
            "instruction_count_shift" => "--icount",
            "translator" => "--jit",
            "debug_exit_port" => "--debug-exit",
            "console" => "--console",
            "disks" => "--disk",
            "nets" => "--net",
            "rng" => "--rng",
            "balloon" => "--balloon",
            "vsock" => "--vsock",
            "virtio_console" => "--virtio-console",
            "filesystems" => "--fs",
            "firmware" => "--firmware",
            _ => field,
        },
    };

    /// <summary>What a message about <paramref name="field"/> starts with; the forms keep the CLI's messages as they always were.</summary>
    private static string Subject(string field) => field switch
    {
        // Messages about these read as a predicate: "--memory must be …", "--icount needs …".
        "memory_size" or "vcpu_count" or "instruction_count_shift" or "virtio_console.kind" => FlagOf(field),
        "kernel.path" => "kernel",
        "kernel.initrd_path" => "initrd",
        _ when field.StartsWith("disks[", StringComparison.Ordinal) && field.EndsWith("].path", StringComparison.Ordinal) => "--disk: image",
        _ => FlagOf(field) + ":",
    };

    private static string Root(string field) => field[..(field.IndexOfAny(['.', '[']) is >= 0 and var end ? end : field.Length)];
}
