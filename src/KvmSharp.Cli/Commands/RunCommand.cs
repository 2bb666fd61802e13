using System.CommandLine;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Runtime;

namespace KvmSharp.Cli.Commands;

/// <summary>
/// <c>kvmsharp run</c>: builds a machine from the flags, runs it to the end, exits with its status.
/// Without --kernel it boots the default guest (built on first use); --exec runs one command there and
/// exits with that command's status.
/// </summary>
internal static class RunCommand
{
    /// <summary>The --kernel value that names the built-in multiboot demo guest instead of a file.</summary>
    public const string DemoKernel = "demo";

    public static Command Create()
    {
        var kernel = new Option<string?>("--kernel") { HelpName = "PATH|demo", Description = "Kernel to boot: a Linux bzImage or a multiboot kernel (ELF or flat), or 'demo' for the built-in demo guest. Without it, the default guest (Debian's cloud kernel and a busybox initramfs) boots to a shell" };
        var initrd = new Option<FileInfo?>("--initrd") { HelpName = "PATH", Description = "Initial ramdisk (Linux) or first module (multiboot)" };
        var cmdline = new Option<string>("--cmdline") { HelpName = "TEXT", Description = "Kernel command line (with the default guest: added to its own)" };
        var exec = new Option<string?>("--exec") { HelpName = "COMMAND", Description = "Run COMMAND in the default guest, print its output, power off and exit with its status" };
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
        var vsock = VsockOption.Create();
        var rng = new Option<bool>("--rng") { Description = "Add a virtio-rng device fed by the host's getrandom(2) (the guest's /dev/hwrng)" };
        var balloon = new Option<bool>("--balloon") { Description = "Add a virtio-balloon device (inflated guest pages go back to the host)" };
        var virtioConsole = Options.VirtioConsole();
        var noReboot = new Option<bool>("--no-reboot") { Description = "End when the guest resets instead of booting it again (as QEMU's -no-reboot)" };
        var noPit = new Option<bool>("--no-pit") { Description = "Leave out the i8254 PIT (as QEMU's -M microvm does): a faster start and exit for guests that need no PIT" };

        var icount = Options.OptionalNumber("--icount",
            "Deterministic guest time on the software CPU: each instruction counts 2^N ns (as QEMU's -icount shift=N), so runs repeat exactly (implies --accel emulate)",
            (ulong)InstructionClock.MaxShift);
        var net = NetOption.Create();
        var disks = DiskOption.Create();
        var command = new Command("run", "Run a virtual machine") { kernel, initrd, cmdline, exec, memory, cpus, accel, debugExit, console, noPit, icount, vsock, disks, net, rng, balloon, virtioConsole, noReboot };
        command.SetAction(result => UserErrors.Guard(() =>
        {
            string? kernelName = result.GetValue(kernel);
            string? initrdPath = result.GetValue(initrd)?.FullName;
            string extraCmdline = result.GetValue(cmdline) ?? "";
            string? execCommand = result.GetValue(exec);
            if (execCommand is not null && kernelName is not null)
                throw new MachineConfigException("--exec runs its command in the default guest; leave out --kernel");
            if (execCommand is not null && result.GetValue(console) is not null)
                throw new MachineConfigException("--exec prints the command's output on stdout; leave out --console");
            if (execCommand is not null && result.GetValue(virtioConsole)?.Kind == ConsoleKind.Stdio)
                throw new MachineConfigException("--exec prints the command's output on stdout; --virtio-console cannot use stdio");
            if (initrdPath is not null && kernelName is null or DemoKernel)
                throw new MachineConfigException("--initrd needs --kernel PATH (the default guest brings its own)");

            ExecStatusChannel? status = execCommand is null ? null : new ExecStatusChannel();
            var config = new MachineConfig
            {
                Kernel = kernelName switch
                {
                    DemoKernel => null,
                    null => DefaultGuestKernel(execCommand, extraCmdline),
                    _ => new KernelConfig(Path.GetFullPath(kernelName), initrdPath, extraCmdline),
                },
                MemorySize = result.GetValue(memory) ?? MachineConfig.DefaultMemorySize,
                VcpuCount = result.GetValue(cpus),
                Accelerator = result.GetValue(accel),
                DebugExitPort = (ushort?)result.GetValue(debugExit),
                Console = result.GetValue(console) ?? ConsoleConfig.Stdio,
                LegacyTimer = !result.GetValue(noPit),
                InstructionCountShift = (int?)result.GetValue(icount),
                Disks = result.GetValue(disks) ?? [],
                Vsock = result.GetValue(vsock),
                Nets = result.GetValue(net) ?? [],
                Rng = result.GetValue(rng),
                Balloon = result.GetValue(balloon),
                VirtioConsole = result.GetValue(virtioConsole),
            };
            return Run(config, status, result.GetValue(noReboot));
        }));
        return command;
    }

    private static KernelConfig DefaultGuestKernel(string? execCommand, string extraCmdline)
    {
        // Encode first: a command too long for the kernel command line is a mistake to report before any download.
        string line = execCommand is null ? DefaultGuestCommandLine.Shell(extraCmdline) : DefaultGuestCommandLine.Exec(execCommand, extraCmdline);
        var guest = DefaultGuestImage.Ensure(DefaultGuestImage.DefaultCacheDirectory, force: false, Console.Error.WriteLine);
        return new KernelConfig(guest.KernelPath, guest.InitrdPath, line);
    }

    private static int Run(MachineConfig config, ExecStatusChannel? status, bool noReboot)
    {
        using var execConsole = status is null ? null : new ExecConsole(status);
        var options = new MachineControllerOptions
        {
            NoReboot = noReboot,
            Notices = Console.Error.WriteLine,
            Console = execConsole,
            ConfigureBuilder = status is null ? null : b => b.WithSerialOutput(DefaultGuestCommandLine.StatusComPort, status),
        };
        using var machine = new MachineController(config, options);
        machine.Start();
        var exit = machine.WaitForExit();
        if (exit.Reason == MachineExitReason.Failed)
            UserErrors.Fail(exit.Message);
        else if (Environment.GetEnvironmentVariable("KVMSHARP_VERBOSE") == "1")
            Console.Error.WriteLine($"kvmsharp: {exit.Message}");
        if (status is null || exit.Reason == MachineExitReason.Failed) return exit.ExitStatus;
        if (status.Status is { } commandStatus) return commandStatus;
        UserErrors.Fail($"the guest ended ({exit.Message}) before it reported the command's exit status");
        return UserErrors.ExitFailure;
    }
}
