using System.CommandLine;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Accelerators.Emulate.Translate;
using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using System.Runtime.InteropServices;
using KvmSharp.Api;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Images.BootDisks;
using KvmSharp.Machine.Runtime;
using KvmSharp.Machine.Sandbox;

namespace KvmSharp.Cli.Commands;

/// <summary>
/// <c>kvmsharp run</c>: builds a machine from the flags (or a JSON config file, <c>--config</c>), runs it to the
/// end, exits with its status. Without --kernel it boots the default guest (built on first use); --exec runs one
/// command there and exits with that command's status. <c>--print-config</c> prints the machine as a config file instead.
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
        var firmware = new Option<string?>("--firmware")
        {
            HelpName = "bios|uefi|none",
            Description = "Start from firmware: bios (SeaBIOS, Debian's seabios package) boots the first disk (or the one given --disk …,boot=1) through its MBR, as a PC; uefi (OVMF, Debian's ovmf package; see --firmware-vars); none (the default) loads the kernel directly",
        };
        firmware.AcceptOnlyFromAmong("bios", "uefi", "none");
        var firmwareVars = new Option<string?>("--firmware-vars")
        {
            HelpName = "FILE",
            Description = "With --firmware uefi: this VM's UEFI variable store (boot entries), created from OVMF_VARS_4M.fd when missing and written as the guest changes it; without it the variables last for this run only",
        };
        var bootStrict = new Option<bool>("--boot-strict")
        {
            Description = "With --firmware: boot only the disks given boot=N (QEMU's -boot strict=on); when none of them boots the firmware stops instead of trying the others",
        };
        var debugExit = Options.OptionalNumber("--debug-exit", "Add a QEMU isa-debug-exit device at this port: a guest write of v exits with status (v<<1)|1", 0xFFFF);
        var console = Options.Console();
        var vsock = VsockOption.Create();
        var rng = new Option<bool>("--rng") { Description = "Add a virtio-rng device fed by the host's getrandom(2) (the guest's /dev/hwrng)" };
        var balloon = new Option<bool>("--balloon") { Description = "Add a virtio-balloon device (inflated guest pages go back to the host)" };
        var virtioConsole = Options.VirtioConsole();
        var cloudInit = CloudInitOption.Create();
        var noReboot = new Option<bool>("--no-reboot") { Description = "End when the guest resets instead of booting it again (as QEMU's -no-reboot)" };
        var noPit = new Option<bool>("--no-pit") { Description = "Leave out the i8254 PIT (as QEMU's -M microvm does): a faster start and exit for guests that need no PIT" };

        var icount = Options.OptionalNumber("--icount",
            "Deterministic guest time on the software CPU: each instruction counts 2^N ns (as QEMU's -icount shift=N), so runs repeat exactly (implies --accel emulate)",
            (ulong)InstructionClock.MaxShift);
        var jit = new Option<string?>("--jit")
        {
            HelpName = "off|on|always|verify",
            Description = "The software CPU's block translator: off (interpreter only), on (translate hot blocks), always (every block on first use), verify (each translated block also run by the interpreter and compared; a mismatch stops the guest naming the block). Default: on",
        };
        jit.AcceptOnlyFromAmong("off", "on", "always", "verify");
        var net = NetOption.Create();
        var disks = DiskOption.Create();
        var filesystems = FsOption.Create();
        var configFile = new Option<FileInfo?>("--config")
        {
            HelpName = "PATH",
            Description = "Run the machine a JSON config file describes (as --print-config writes one); only --console may be given with it, to say where COM1 goes",
        };
        var apiSocket = new Option<string?>("--api-sock")
        {
            HelpName = "PATH",
            Description = "Serve the per-VM API (Firecracker's, HTTP over this Unix socket, mode 0600). Without --kernel, --exec or --config the machine waits for the API to configure and start it",
        };
        var incoming = new Option<string?>("--incoming")
        {
            HelpName = "URL",
            Description = "Wait for a live migration on unix:PATH or tcp:HOST:PORT (as QEMU's -incoming) and run the machine it brings; the source's disks must open here at the same paths",
        };
        var instanceId = new Option<string>("--id") { HelpName = "ID", Description = "The machine's id, as GET / reports it (default anonymous-instance)", DefaultValueFactory = _ => "anonymous-instance" };
        var restore = new Option<FileInfo?>("--restore") { HelpName = "STATE", Description = "Run the machine a snapshot saved (its state file, from PUT /snapshot/create), going on where it was; needs --restore-mem" };
        var restoreMemory = new Option<FileInfo?>("--restore-mem") { HelpName = "MEMFILE", Description = "The snapshot's memory file (mapped copy-on-write: the file never changes)" };
        var paused = new Option<bool>("--paused") { Description = "Start (or restore) the machine paused: no guest instruction runs until PATCH /vm {\"state\": \"Resumed\"} (libvirt's start --paused)" };
        var (sandbox, seccomp) = SandboxOption.Create();
        var printConfig = new Option<bool>("--print-config") { Description = "Print the machine the other flags describe as a JSON config (every device's id and slot filled in) and exit without running it" };
        Option[] machineFlags = [kernel, initrd, cmdline, exec, firmware, firmwareVars, bootStrict, cloudInit, memory, cpus, accel, debugExit, noPit, icount, jit, vsock, disks, net, rng, balloon, virtioConsole, filesystems];
        var command = new Command("run", "Run a virtual machine");
        foreach (var option in (Option[])[kernel, initrd, cmdline, exec, firmware, firmwareVars, bootStrict, cloudInit, memory, cpus, accel, debugExit, console, noPit, icount, jit, vsock, disks, net, rng, balloon, virtioConsole, filesystems, noReboot, configFile, printConfig, apiSocket, instanceId, restore, restoreMemory, incoming, paused, sandbox, seccomp])
            command.Options.Add(option);
        command.SetAction(result => UserErrors.Guard(() =>
        {
            ExecStatusChannel? status = null;
            MachineConfig config;
            string? api = result.GetValue(apiSocket);
            // Firecracker's way: with only an API socket the machine is described and started through it.
            bool waitForApi = api is not null && result.GetValue(configFile) is null
                              && result.GetResult(kernel) is not { Implicit: false } && result.GetResult(exec) is not { Implicit: false };
            Func<ConfigProblem, string> describe;
            string? incomingUrl = result.GetValue(incoming);
            if (incomingUrl is not null)
            {
                if (machineFlags.Append(configFile).Append(printConfig).Append(restore).Append(restoreMemory).FirstOrDefault(flag => result.GetResult(flag) is { Implicit: false }) is { } extra)
                    throw new MachineConfigException($"--incoming takes the machine from the migration's source; leave out {extra.Name} (only --console, --api-sock and --id go with it)");
                var arriving = new MachineConfig { Console = result.GetValue(console) ?? ConsoleConfig.Stdio };
                return Run(arriving, null, ConfigFlags.Describe, new RunOptions(result.GetValue(noReboot), api, result.GetValue(instanceId)!, WaitForApi: false, Incoming: incomingUrl)
                {
                    Sandbox = SandboxOption.Read(result, sandbox, seccomp, api),
                });
            }
            var snapshot = (result.GetValue(restore), result.GetValue(restoreMemory)) switch
            {
                (null, null) => ((string, string)?)null,
                ({ } state, { } memory) => (state.FullName, memory.FullName),
                (null, _) => throw new MachineConfigException("--restore-mem needs --restore STATE"),
                _ => throw new MachineConfigException("--restore needs --restore-mem MEMFILE (the snapshot's memory file)"),
            };
            if (snapshot is not null)
            {
                if (machineFlags.Append(configFile).Append(printConfig).FirstOrDefault(flag => result.GetResult(flag) is { Implicit: false }) is { } extra)
                    throw new MachineConfigException($"--restore brings the whole machine; leave out {extra.Name} (only --console may go with it, to say where COM1 goes)");
                config = new MachineConfig { Console = result.GetValue(console) ?? ConsoleConfig.Stdio };
                describe = ConfigFlags.Describe;
                waitForApi = false;
            }
            else if (result.GetValue(configFile) is { } file)
            {
                if (machineFlags.FirstOrDefault(flag => result.GetResult(flag) is { Implicit: false }) is { } extra)
                    throw new MachineConfigException($"--config describes the whole machine; leave out {extra.Name} (only --console may go with it, to say where COM1 goes)");
                config = MachineConfigJson.ReadFile(file.FullName);
                if (result.GetValue(console) is { } com1) config = config with { Console = com1 };
                describe = problem => $"{file.FullName}: {problem}";
            }
            else
            {
                string? execCommand = result.GetValue(exec);
                status = execCommand is null ? null : new ExecStatusChannel();
                config = FromFlags(result, execCommand, waitForApi);
                describe = ConfigFlags.Describe;
            }
            if (result.GetValue(paused) && waitForApi)
                throw new MachineConfigException("--paused needs a machine to start (--kernel, --config or --restore); through the API, start it with InstanceStart and pause it with PATCH /vm");
            var run = new RunOptions(result.GetValue(noReboot), api, result.GetValue(instanceId)!, waitForApi, snapshot, Paused: result.GetValue(paused))
            {
                Sandbox = SandboxOption.Read(result, sandbox, seccomp, api),
            };
            if (!result.GetValue(printConfig)) return Run(config, status, describe, run);
            var normalized = config.Normalize();
            if (normalized.Validate() is { Count: > 0 } problems) throw new MachineConfigException(string.Join("; ", problems.Select(describe)));
            Console.Out.Write(MachineConfigJson.Write(normalized));
            return 0;
        }));
        return command;

        MachineConfig FromFlags(ParseResult result, string? execCommand, bool waitForApi)
        {
            string? kernelName = result.GetValue(kernel);
            string? initrdPath = result.GetValue(initrd)?.FullName;
            string extraCmdline = result.GetValue(cmdline) ?? "";
            if (execCommand is not null && kernelName is not null)
                throw new MachineConfigException("--exec runs its command in the default guest; leave out --kernel");
            if (execCommand is not null && result.GetValue(console) is not null)
                throw new MachineConfigException("--exec prints the command's output on stdout; leave out --console");
            if (execCommand is not null && result.GetValue(virtioConsole)?.Kind == ConsoleKind.Stdio)
                throw new MachineConfigException("--exec prints the command's output on stdout; --virtio-console cannot use stdio");
            if (initrdPath is not null && kernelName is null or DemoKernel)
                throw new MachineConfigException("--initrd needs --kernel PATH (the default guest brings its own)");
            var firmwareConfig = result.GetValue(firmware) switch
            {
                "bios" => new FirmwareConfig(FirmwareKind.Bios) { StrictBoot = result.GetValue(bootStrict) },
                "uefi" => new FirmwareConfig(FirmwareKind.Uefi, VarsPath: result.GetValue(firmwareVars)) { StrictBoot = result.GetValue(bootStrict) },
                _ => null,
            };
            if (result.GetValue(bootStrict) && firmwareConfig is null)
                throw new MachineConfigException("--boot-strict says which disks the firmware may boot; it needs --firmware bios or uefi");
            if (result.GetValue(firmwareVars) is not null && firmwareConfig?.Kind != FirmwareKind.Uefi)
                throw new MachineConfigException("--firmware-vars is the UEFI variable store; it needs --firmware uefi");
            if (firmwareConfig is not null && execCommand is not null)
                throw new MachineConfigException("--exec runs its command in the default guest, which boots without firmware; leave out --firmware");
            if (firmwareConfig is not null && kernelName is DemoKernel)
                throw new MachineConfigException("--kernel demo is a multiboot guest that boots without firmware; leave out --firmware");
            return new MachineConfig
            {
                Firmware = firmwareConfig,
                Kernel = waitForApi || (firmwareConfig is not null && kernelName is null) ? null : kernelName switch
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
                Translator = TranslatorModes.Parse(result.GetValue(jit)),
                Disks = [.. result.GetValue(disks) ?? [], .. CloudInitDisk(result.GetValue(cloudInit))],
                Vsock = result.GetValue(vsock),
                Nets = [.. result.GetValue(net) ?? []],
                Rng = result.GetValue(rng) ? new RngConfig() : null,
                Balloon = result.GetValue(balloon) ? new BalloonConfig() : null,
                VirtioConsole = result.GetValue(virtioConsole) is { } hvc ? new VirtioConsoleConfig(hvc.Kind, hvc.SocketPath) : null,
                Filesystems = [.. result.GetValue(filesystems) ?? []],
            };
        }
    }

    /// <summary>The NoCloud seed for --cloud-init, written to a temporary file that is removed when the process ends.</summary>
    private static IEnumerable<DiskConfig> CloudInitDisk((string UserData, string? MetaData)? files)
    {
        if (files is not { } f) yield break;
        string directory = Directory.CreateTempSubdirectory("kvmsharp-cidata").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(directory, recursive: true);
        string seed = Path.Combine(directory, "seed.iso");
        CloudInitSeed.Write(seed, f.UserData, f.MetaData);
        yield return new DiskConfig(seed, DiskFormat.Raw, ReadOnly: true, Serial: CloudInitSeed.Label);
    }

    private static KernelConfig DefaultGuestKernel(string? execCommand, string extraCmdline)
    {
        // Encode first: a command too long for the kernel command line is a mistake to report before any download.
        string line = execCommand is null ? DefaultGuestCommandLine.Shell(extraCmdline) : DefaultGuestCommandLine.Exec(execCommand, extraCmdline);
        var guest = DefaultGuestImage.Ensure(DefaultGuestImage.DefaultCacheDirectory, force: false, Console.Error.WriteLine);
        return new KernelConfig(guest.KernelPath, guest.InitrdPath, line);
    }

    /// <summary>How the process runs its machine, beyond the machine itself.</summary>
    /// <param name="WaitForApi">The API configures and starts the machine (no --kernel, --exec or --config).</param>
    /// <param name="Snapshot">A snapshot's state and memory files to restore instead of booting.</param>
    /// <param name="Incoming">The machine comes from a live migration on this URL.</param>
    /// <param name="Paused">Start or restore the machine paused.</param>
    private sealed record RunOptions(bool NoReboot, string? ApiSocket, string InstanceId, bool WaitForApi,
                                     (string State, string Memory)? Snapshot = null, string? Incoming = null, bool Paused = false)
    {
        /// <summary>How the process confines itself before the guest runs (--sandbox, --seccomp).</summary>
        public SandboxOptions Sandbox { get; init; } = new();
    }

    /// <param name="describe">Says a config problem in the words of whoever wrote the config: the flags, or a file's fields.</param>
    private static int Run(MachineConfig config, ExecStatusChannel? status, Func<ConfigProblem, string> describe, RunOptions run)
    {
        using var execConsole = status is null ? null : new ExecConsole(status);
        var options = new MachineControllerOptions
        {
            NoReboot = run.NoReboot,
            Notices = Console.Error.WriteLine,
            Console = execConsole,
            ConfigureBuilder = status is null ? null : b => b.WithSerialOutput(DefaultGuestCommandLine.StatusComPort, status),
            BeforeGuestRuns = machineConfig =>
            {
                VmmSandbox.Apply(machineConfig, run.Sandbox, Console.Error.WriteLine);
                SandboxTestHook.RunIfAsked(run.Sandbox);
            },
        };
        using var machine = new MachineController(config, options);
        // SIGTERM ends the machine and the process cleanly (the API socket removed), as Ctrl-A x does.
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            machine.Stop("stopped by SIGTERM");
        });
        var server = run.ApiSocket is null ? null
            : VmApiServer.Start(run.ApiSocket, new VmApi(machine, run.InstanceId, bootSourceGiven: !run.WaitForApi || run.Snapshot is not null));
        try
        {
            if (run.Snapshot is { } snapshot) machine.LoadSnapshot(snapshot.State, snapshot.Memory, resume: !run.Paused);
            else if (run.Incoming is not null) machine.ReceiveMigration(run.Incoming);
            else if (!run.WaitForApi) Start(machine, describe, run.Paused);
            return Finish(machine.WaitForExit(), status);
        }
        finally
        {
            server?.Dispose();
        }
    }

    private static void Start(MachineController machine, Func<ConfigProblem, string> describe, bool paused)
    {
        try
        {
            machine.Start(paused);
        }
        catch (MachineConfigException e) when (e.Problems.Count > 0)
        {
            throw new MachineConfigException(string.Join("; ", e.Problems.Select(describe)));
        }
    }

    private static int Finish(MachineExit exit, ExecStatusChannel? status)
    {
        if (exit.Reason == MachineExitReason.Failed)
            UserErrors.Fail(exit.Message);
        else if (Environment.GetEnvironmentVariable("KVMSHARP_VERBOSE") == "1")
            Console.Error.WriteLine($"kvmsharp: ended: {exit.Message} (exit status {exit.ExitStatus})");   // the manager reads this line in a VMM's log
        if (status is null || exit.Reason == MachineExitReason.Failed) return exit.ExitStatus;
        if (status.Status is { } commandStatus) return commandStatus;
        UserErrors.Fail($"the guest ended ({exit.Message}) before it reported the command's exit status");
        return UserErrors.ExitFailure;
    }
}
