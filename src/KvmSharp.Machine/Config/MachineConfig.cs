using System.Text.Json.Serialization;

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
/// Everything that describes one machine. Plain data with value equality: the CLI, a JSON file
/// (<see cref="MachineConfigJson"/>) and the per-VM API all produce it; <see cref="Runtime.MachineBuilder"/> consumes it.
/// Each virtio device carries an id and a PCI slot; <see cref="Normalize"/> fills in those not given, and the
/// <c>With…</c> methods change one device by id while every other keeps its slot.
/// </summary>
public sealed partial record MachineConfig
{
    public const ulong DefaultMemorySize = 256UL << 20;

    public MachineConfig() { }

    /// <summary>
    /// For the JSON reader: the generated reader sets every init-only property, to its type's default when a file
    /// leaves it out, so the fields whose default is not their type's come in here, where a missing one keeps ours.
    /// </summary>
    [JsonConstructor]
    internal MachineConfig(ulong memorySize = DefaultMemorySize, int vcpuCount = 1, bool legacyTimer = true, ConsoleConfig? console = null)
    {
        MemorySize = memorySize;
        VcpuCount = vcpuCount;
        LegacyTimer = legacyTimer;
        Console = console ?? ConsoleConfig.Stdio;
    }

    /// <summary>The layout of the JSON form; a file of another version is refused, not guessed at.</summary>
    public int FormatVersion { get; init; } = MachineConfigJson.CurrentFormatVersion;
    /// <summary>Guest RAM in bytes.</summary>
    public ulong MemorySize { get; init; } = DefaultMemorySize;
    public int VcpuCount { get; init; } = 1;
    /// <summary>Null: the built-in demo guest, or, with <see cref="Firmware"/>, whatever the firmware boots from the disks.</summary>
    public KernelConfig? Kernel { get; init; }
    /// <summary>Null: no firmware; the kernel is loaded directly and entered in its boot protocol's mode.</summary>
    public FirmwareConfig? Firmware { get; init; }
    /// <summary>The machine's UUID (SMBIOS system information, where firmware reads it; libvirt's domain uuid); null: none.</summary>
    public Guid? Uuid { get; init; }
    public AcceleratorChoice Accelerator { get; init; } = AcceleratorChoice.Auto;
    /// <summary>An i8254 PIT (the PC default). Guests that need none may leave it out: see <see cref="Accelerators.VirtualMachineOptions"/>.</summary>
    public bool LegacyTimer { get; init; } = true;
    /// <summary>
    /// Deterministic guest time on the software CPU: each instruction is 2^N ns (QEMU's <c>-icount shift=N</c>);
    /// null: guest time follows host time.
    /// </summary>
    public int? InstructionCountShift { get; init; }
    /// <summary>
    /// The software CPU's block translator (<c>--jit</c>: off, on, always, verify); null: its default
    /// (<see cref="KvmSharp.Accelerators.Emulate.Translate.TranslatorModes.Default"/>). KVM has none.
    /// </summary>
    public KvmSharp.Accelerators.Emulate.Translate.TranslatorMode? Translator { get; init; }
    /// <summary>The port of a QEMU-compatible isa-debug-exit device, when one is wanted.</summary>
    public ushort? DebugExitPort { get; init; }
    public ConsoleConfig Console { get; init; } = ConsoleConfig.Stdio;

    // ---- virtio devices on PCI, each one function in its own slot (see Normalize for the default slots) ----
    /// <summary>Disks; with default slots the first is the guest's /dev/vda.</summary>
    public ValueList<DiskConfig> Disks { get; init; } = [];
    public ValueList<NetConfig> Nets { get; init; } = [];
    public RngConfig? Rng { get; init; }
    public BalloonConfig? Balloon { get; init; }
    public VsockConfig? Vsock { get; init; }
    /// <summary>A virtio-console (the guest's hvc0) and where it goes; null: none.</summary>
    public VirtioConsoleConfig? VirtioConsole { get; init; }
    /// <summary>Host folders shared with virtio-fs, each mounted in the guest by its tag.</summary>
    public ValueList<FsConfig> Filesystems { get; init; } = [];

    /// <summary>The largest machine we build: 1 TiB of RAM, 255 vCPUs (8-bit xAPIC ids).</summary>
    public const ulong MaxMemorySize = 1UL << 40;
    public const int MaxVcpuCount = 255;

    /// <summary>
    /// Checks every value a user can get wrong, without touching the file system (the builder checks that files
    /// exist); one problem per mistake, each naming its field by JSON path.
    /// </summary>
    public IReadOnlyList<ConfigProblem> Validate() => MachineConfigValidator.Problems(this);
}
