using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;

namespace KvmSharp.Tests.Machine.Config;

/// <summary>Validate: each mistake named by its field's JSON path; no file system; the CLI says them with its flags.</summary>
public class ValidationTests
{
    public static TheoryData<string, Func<MachineConfig, MachineConfig>> Mistakes => new()
    {
        { "format_version", c => c with { FormatVersion = 2 } },
        { "memory_size", c => c with { MemorySize = 1 << 20 } },
        { "memory_size", c => c with { MemorySize = (256UL << 20) + 1 } },
        { "vcpu_count", c => c with { VcpuCount = 0 } },
        { "vcpu_count", c => c with { VcpuCount = 256 } },
        { "accelerator", c => c with { Accelerator = (AcceleratorChoice)9 } },
        { "instruction_count_shift", c => c with { InstructionCountShift = 11 } },
        { "instruction_count_shift", c => c with { InstructionCountShift = 2, Accelerator = AcceleratorChoice.Kvm } },
        { "kernel.path", c => c with { Kernel = new KernelConfig("") } },
        { "kernel.initrd_path", c => c with { Kernel = new KernelConfig("/k", "") } },
        { "console.kind", c => c with { Console = new ConsoleConfig((ConsoleKind)7) } },
        { "console.socket_path", c => c with { Console = new ConsoleConfig(ConsoleKind.Socket) } },
        { "console.socket_path", c => c with { Console = new ConsoleConfig(ConsoleKind.Pty, "/tmp/x") } },
        { "disks[1].path", c => c with { Disks = [new DiskConfig("/a"), new DiskConfig("")] } },
        { "disks[0].format", c => c with { Disks = [new DiskConfig("/a", (DiskFormat)5)] } },
        { "disks[0].serial", c => c with { Disks = [new DiskConfig("/a", Serial: "a serial that is far too long")] } },
        { "disks[0].id", c => c with { Disks = [new DiskConfig("/a") { Id = "root fs" }] } },
        { "disks[0].id", c => c with { Disks = [new DiskConfig("/a") { Id = new string('x', 65) }] } },
        { "nets[1].id", c => c with { Disks = [new DiskConfig("/a") { Id = "x" }], Nets = [new NetConfig("t0"), new NetConfig("t1") { Id = "x" }] } },
        { "rng.slot", c => c with { Rng = new RngConfig { Slot = 0 } } },
        { "balloon.slot", c => c with { Balloon = new BalloonConfig { Slot = 32 } } },
        { "balloon.slot", c => c with { Rng = new RngConfig { Slot = 5 }, Balloon = new BalloonConfig { Slot = 5 } } },
        { "nets[0].tap", c => c with { Nets = [new NetConfig("a/b")] } },
        { "nets[1].tap", c => c with { Nets = [new NetConfig("t0"), new NetConfig("t0")] } },
        { "nets[0].mac", c => c with { Nets = [new NetConfig("t0", "52:54:00:12:34")] } },
        { "nets[1].mac", c => c with { Nets = [new NetConfig("t0", "52:54:00:12:34:56"), new NetConfig("t1", "52:54:00:12:34:56")] } },
        { "vsock.guest_cid", c => c with { Vsock = new VsockConfig(2, "/tmp/v.sock") } },
        { "vsock.uds_path", c => c with { Vsock = new VsockConfig(3, "") } },
        { "virtio_console.kind", c => c with { VirtioConsole = new VirtioConsoleConfig(ConsoleKind.Stdio) } },
        { "virtio_console.socket_path", c => c with { VirtioConsole = new VirtioConsoleConfig(ConsoleKind.Socket) } },
        { "virtio_console.socket_path", c => c with
            { Console = new ConsoleConfig(ConsoleKind.Socket, "/s"), VirtioConsole = new VirtioConsoleConfig(ConsoleKind.Socket, "/s") } },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void EachMistakeNamesItsField(string field, Func<MachineConfig, MachineConfig> mistake)
    {
        var valid = new MachineConfig { Kernel = new KernelConfig("/k") };
        Assert.Empty(valid.Validate());
        var problem = Assert.Single(mistake(valid).Validate());
        Assert.Equal(field, problem.Field);
        Assert.DoesNotContain('{', problem.ToString());
        Assert.StartsWith(field + ": ", problem.ToString());
    }

    [Fact]
    public void ValidationTouchesNoFileSystem()
    {
        var config = ConfigSamples.Full() with
        {
            Kernel = new KernelConfig("/nonexistent/vmlinuz", "/nonexistent/initrd"),
            Disks = [new DiskConfig("/nonexistent/disk.img")],
            Vsock = new VsockConfig(3, "/nonexistent-dir/v.sock"),
        };
        Assert.Empty(config.Validate());
    }

    [Fact]
    public void ProblemsReadInTheConfigsWordsOrInTheFlags()
    {
        var icount = Assert.Single((new MachineConfig { InstructionCountShift = 1, Accelerator = AcceleratorChoice.Kvm }).Validate());
        Assert.Equal("instruction_count_shift: needs the software CPU (accelerator emulate): KVM runs guests in real time", icount.ToString());
        Assert.Equal("--icount needs the software CPU (--accel emulate): KVM runs guests in real time", ConfigFlags.Describe(icount));
        Assert.Equal("--memory must be between 2M and 1024G", ConfigFlags.Describe(new ConfigProblem("memory_size", "must be between 2M and 1024G")));
        Assert.Equal("kernel '/k' does not exist", ConfigFlags.Describe(new ConfigProblem("kernel.path", "'/k' does not exist")));
        Assert.Equal("initrd '/i' does not exist", ConfigFlags.Describe(new ConfigProblem("kernel.initrd_path", "'/i' does not exist")));
        Assert.Equal("--disk: image '/d' does not exist", ConfigFlags.Describe(new ConfigProblem("disks[3].path", "'/d' does not exist")));
        Assert.Equal("--disk: serial 'x' is bad", ConfigFlags.Describe(new ConfigProblem("disks[3].serial", "serial 'x' is bad")));
        Assert.Equal("--net: tap t0 is given twice", ConfigFlags.Describe(new ConfigProblem("nets[1].tap", "tap t0 is given twice")));
        Assert.Equal("--vsock: cid 2 is reserved", ConfigFlags.Describe(new ConfigProblem("vsock.guest_cid", "cid 2 is reserved")));
        // A brace in a quoted value is not a field.
        var braces = new ConfigProblem("kernel.path", $"'{ConfigProblem.Escape("/a{b}c{console}")}' does not exist");
        Assert.Equal("kernel '/a{b}c{console}' does not exist", ConfigFlags.Describe(braces));
        Assert.Equal("kernel.path: '/a{b}c{console}' does not exist", braces.ToString());
        var tap = Assert.Single(new MachineConfig { Nets = [new NetConfig("{console}"), new NetConfig("{console}")] }.Validate());
        Assert.Equal("--net: tap {console} is given twice (one tap carries one NIC)", ConfigFlags.Describe(tap));
    }

    [Fact]
    public void IdsFollowTheRule()
    {
        Assert.True(DeviceId.IsValid("rootfs"));
        Assert.True(DeviceId.IsValid("Drive_1-a"));
        Assert.True(DeviceId.IsValid(new string('a', 64)));
        Assert.False(DeviceId.IsValid(""));
        Assert.False(DeviceId.IsValid(new string('a', 65)));
        Assert.False(DeviceId.IsValid("a/b"));
        Assert.False(DeviceId.IsValid("é"));
    }
}
