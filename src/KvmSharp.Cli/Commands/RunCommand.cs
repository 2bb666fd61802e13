using System.CommandLine;
using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Runtime;

namespace KvmSharp.Cli.Commands;

/// <summary><c>kvmsharp run</c>: builds a machine from the flags, runs it to the end, exits with its status.</summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var kernel = new Option<FileInfo?>("--kernel") { HelpName = "PATH", Description = "Kernel to boot: a Linux bzImage or a multiboot kernel (ELF or flat). Without it, a built-in demo guest runs" };
        var initrd = new Option<FileInfo?>("--initrd") { HelpName = "PATH", Description = "Initial ramdisk (Linux) or first module (multiboot)" };
        var cmdline = new Option<string>("--cmdline") { HelpName = "TEXT", Description = "Kernel command line" };
        var memory = Options.Size("--memory", "Guest RAM, e.g. 512M or 2G (default 256M; a bare decimal number means MiB, a bare 0x number bytes)");
        var cpus = Options.Count("--cpus", "Number of vCPUs", 1, MachineConfig.MaxVcpuCount);
        var accel = new Option<AcceleratorChoice>("--accel")
        {
            HelpName = "auto|kvm|emulate",
            Description = "auto (probe /dev/kvm, fall back to the software CPU), kvm, or emulate",
            DefaultValueFactory = _ => AcceleratorChoice.Auto,
        };
        var debugExit = Options.OptionalNumber("--debug-exit", "Add a QEMU isa-debug-exit device at this port: a guest write of v exits with status (v<<1)|1", 0xFFFF);
        var console = Options.Console();
        var noPit = new Option<bool>("--no-pit") { Description = "Leave out the i8254 PIT (as QEMU's -M microvm does): a faster start and exit for guests that need no PIT" };

        var command = new Command("run", "Run a virtual machine") { kernel, initrd, cmdline, memory, cpus, accel, debugExit, console, noPit };
        command.SetAction(result => UserErrors.Guard(() =>
        {
            string? kernelPath = result.GetValue(kernel)?.FullName;
            string? initrdPath = result.GetValue(initrd)?.FullName;
            if (kernelPath is null && initrdPath is not null)
                throw new MachineConfigException("--initrd needs --kernel");
            var config = new MachineConfig
            {
                Kernel = kernelPath is null ? null : new KernelConfig(kernelPath, initrdPath, result.GetValue(cmdline) ?? ""),
                MemorySize = result.GetValue(memory) ?? MachineConfig.DefaultMemorySize,
                VcpuCount = result.GetValue(cpus),
                Accelerator = result.GetValue(accel),
                DebugExitPort = (ushort?)result.GetValue(debugExit),
                Console = result.GetValue(console) ?? ConsoleConfig.Stdio,
                LegacyTimer = !result.GetValue(noPit),
            };
            return Run(config);
        }));
        return command;
    }

    private static int Run(MachineConfig config)
    {
        using var machine = new MachineBuilder(config).WithNotices(Console.Error.WriteLine).Build();
        machine.Start();
        var exit = machine.WaitForExit();
        if (exit.Reason == MachineExitReason.Failed)
            UserErrors.Fail(exit.Message);
        else if (Environment.GetEnvironmentVariable("KVMSHARP_VERBOSE") == "1")
            Console.Error.WriteLine($"kvmsharp: {exit.Message}");
        return exit.ExitStatus;
    }
}
