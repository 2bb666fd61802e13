using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Machine.Config;

/// <summary>Configs for the config tests: one with a value other than the default in every field.</summary>
internal static class ConfigSamples
{
    /// <summary>Every field set, every device present, ids and slots given out of the default order.</summary>
    public static MachineConfig Full() => new()
    {
        MemorySize = 512UL << 20,
        VcpuCount = 4,
        Kernel = new KernelConfig("/boot/vmlinuz", "/boot/initrd.img", "console=ttyS0 quiet"),
        Accelerator = AcceleratorChoice.Emulate,
        LegacyTimer = false,
        InstructionCountShift = 3,
        DebugExitPort = 0xF4,
        Console = new ConsoleConfig(ConsoleKind.Socket, "/run/vm/com1.sock"),
        Disks =
        [
            new DiskConfig("/images/root.qcow2", DiskFormat.Qcow2, ReadOnly: true, Serial: "root-1") { Id = "rootfs", Slot = 9 },
            new DiskConfig("/images/data.img", DiskFormat.Raw) { Id = "data", Slot = 2 },
        ],
        Nets = [new NetConfig("tap7", "52:54:00:12:34:56") { Id = "eth0", Slot = 3 }],
        Rng = new RngConfig { Id = "entropy", Slot = 30 },
        Balloon = new BalloonConfig { Id = "mem", Slot = 31 },
        Vsock = new VsockConfig(42, "/run/vm/v.sock") { Id = "vsock", Slot = 4 },
        VirtioConsole = new VirtioConsoleConfig(ConsoleKind.Pty) { Id = "hvc", Slot = 5 },
    };

    /// <summary>One of each device with nothing but what the CLI's flags say: no ids, slots or MACs.</summary>
    public static MachineConfig FromFlags() => new()
    {
        Kernel = new KernelConfig("/boot/vmlinuz"),
        Disks = [new DiskConfig("/a.img"), new DiskConfig("/b.img")],
        Nets = [new NetConfig("tap0"), new NetConfig("tap1")],
        Rng = new RngConfig(),
        Balloon = new BalloonConfig(),
        Vsock = new VsockConfig(3, "/tmp/v.sock"),
        VirtioConsole = new VirtioConsoleConfig(ConsoleKind.None),
    };
}
