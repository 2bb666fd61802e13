namespace KvmSharp.Machine.Config;

/// <summary>Which accelerator runs the guest.</summary>
public enum AcceleratorChoice
{
    /// <summary>KVM when it is present and fast; otherwise the software CPU.</summary>
    Auto,
    Kvm,
    Emulate,
}

/// <summary>Where the guest's first serial port (COM1) goes.</summary>
public enum ConsoleKind
{
    /// <summary>The process's stdin/stdout (raw mode on a terminal; Ctrl-A x quits).</summary>
    Stdio,
    /// <summary>A new pseudo-terminal whose path is printed on stderr.</summary>
    Pty,
    /// <summary>A Unix socket that accepts one client at a time.</summary>
    Socket,
    /// <summary>Output discarded, no input.</summary>
    None,
}

public sealed record ConsoleConfig(ConsoleKind Kind, string? SocketPath = null)
{
    public static ConsoleConfig Stdio { get; } = new(ConsoleKind.Stdio);
}

/// <summary>The guest kernel and what it is started with.</summary>
public sealed record KernelConfig(string Path, string? InitrdPath = null, string CommandLine = "");

/// <summary>
/// Everything that describes one machine. Plain data: the CLI, a JSON file and the REST API all produce
/// it; <see cref="Runtime.MachineBuilder"/> consumes it.
/// </summary>
public sealed record MachineConfig
{
    public const ulong DefaultMemorySize = 256UL << 20;

    public ulong MemorySize { get; init; } = DefaultMemorySize;
    public int VcpuCount { get; init; } = 1;
    /// <summary>Null: the built-in demo guest.</summary>
    public KernelConfig? Kernel { get; init; }
    public AcceleratorChoice Accelerator { get; init; } = AcceleratorChoice.Auto;
    /// <summary>An i8254 PIT (the PC default). Guests that need none may leave it out: see <see cref="Accelerators.VirtualMachineOptions"/>.</summary>
    public bool LegacyTimer { get; init; } = true;
    /// <summary>
    /// Deterministic guest time on the software CPU: each instruction is 2^N ns (QEMU's <c>-icount shift=N</c>);
    /// null: guest time follows host time.
    /// </summary>
    public int? InstructionCountShift { get; init; }
    /// <summary>The port of a QEMU-compatible isa-debug-exit device, when one is wanted.</summary>
    public ushort? DebugExitPort { get; init; }
    public ConsoleConfig Console { get; init; } = ConsoleConfig.Stdio;

    // ---- virtio devices on PCI (issue 5); each becomes one PCI function in slot order ----
    /// <summary>Disks in order: the first is the guest's /dev/vda.</summary>
    public IReadOnlyList<DiskConfig> Disks { get; init; } = [];
    public IReadOnlyList<NetConfig> Nets { get; init; } = [];
    /// <summary>A virtio-rng device fed by the host's getrandom(2).</summary>
    public bool Rng { get; init; }
    /// <summary>A virtio-balloon device.</summary>
    public bool Balloon { get; init; }
    public VsockConfig? Vsock { get; init; }
    /// <summary>A virtio-console (the guest's hvc0) and where it goes; null: none.</summary>
    public ConsoleConfig? VirtioConsole { get; init; }

    /// <summary>The largest machine we build: 1 TiB of RAM, 255 vCPUs (8-bit xAPIC ids).</summary>
    public const ulong MaxMemorySize = 1UL << 40;
    public const int MaxVcpuCount = 255;

    /// <summary>Checks the values a user can get wrong; returns one message per problem.</summary>
    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (MemorySize < Memory.MemoryMap.MinimumRam || MemorySize > MaxMemorySize)
            problems.Add($"--memory must be between {Memory.MemoryMap.MinimumRam >> 20}M and {MaxMemorySize >> 30}G");
        else if (MemorySize % Memory.MemoryMap.PageSize != 0)
            problems.Add("--memory must be a multiple of 4K");
        if (VcpuCount < 1 || VcpuCount > MaxVcpuCount)
            problems.Add($"--cpus must be between 1 and {MaxVcpuCount}");
        if (Kernel is not null && !File.Exists(Kernel.Path))
            problems.Add($"kernel '{Kernel.Path}' does not exist");
        if (Kernel?.InitrdPath is { } initrd && !File.Exists(initrd))
            problems.Add($"initrd '{initrd}' does not exist");
        if (InstructionCountShift is { } shift && (shift < 0 || shift > Accelerators.Emulate.Platform.InstructionClock.MaxShift))
            problems.Add($"--icount must be between 0 and {Accelerators.Emulate.Platform.InstructionClock.MaxShift}");
        if (InstructionCountShift is not null && Accelerator == AcceleratorChoice.Kvm)
            problems.Add("--icount needs the software CPU (--accel emulate): KVM runs guests in real time");
        foreach (var disk in Disks.Where(d => !File.Exists(d.Path)))
            problems.Add($"--disk: image '{disk.Path}' does not exist");
        if (Console.Kind == ConsoleKind.Socket && string.IsNullOrEmpty(Console.SocketPath))
            problems.Add("--console socket: needs a path, as in socket:/tmp/vm.sock");
        // CIDs 0-2 are the hypervisor, local and host (virtio 1.2 §5.10.4); 2^32-1 is VMADDR_CID_ANY.
        if (Vsock is { } vsock && (vsock.GuestCid < 3 || vsock.GuestCid == uint.MaxValue))
            problems.Add($"--vsock: cid {vsock.GuestCid} is reserved; use 3 to {uint.MaxValue - 1}");
        if (Vsock is { } socket && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(socket.UdsPath))))
            problems.Add($"--vsock: the directory of uds '{socket.UdsPath}' does not exist");
        foreach (var tap in Nets.GroupBy(n => n.Tap).Where(g => g.Count() > 1))
            problems.Add($"--net: tap {tap.Key} is given twice (one tap carries one NIC)");
        if (VirtioConsole?.Kind == ConsoleKind.Stdio && Console.Kind == ConsoleKind.Stdio)
            problems.Add("--virtio-console stdio needs COM1 elsewhere: add --console none, pty or socket:PATH");
        if (VirtioConsole?.Kind == ConsoleKind.Socket && VirtioConsole.SocketPath == Console.SocketPath && Console.Kind == ConsoleKind.Socket)
            problems.Add($"--console and --virtio-console cannot share the socket {Console.SocketPath}");
        if (VirtioConsole?.Kind == ConsoleKind.Socket && string.IsNullOrEmpty(VirtioConsole.SocketPath))
            problems.Add("--virtio-console socket: needs a path, as in socket:/tmp/hvc.sock");
        return problems;
    }
}
