using KvmSharp.Machine.Config;
using KvmSharp.Machine.Guests;

namespace KvmSharp.Tests.Cli;

/// <summary><c>kvmsharp run --print-config</c> and <c>--config FILE</c> as processes: the same machine either way, one line for each mistake.</summary>
public sealed class ConfigFileTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-cli-config").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    private string HelloKernel()
    {
        string hello = PathOf("hello.bin");
        File.WriteAllBytes(hello, TinyGuests.Hello("Hello, world!\n", 0xF4, 0x10));
        return hello;
    }

    private string PrintConfig(params string[] flags)
    {
        var (code, stdout, stderr) = CliProcess.Run(["run", .. flags, "--print-config"]);
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}");
        Assert.Equal("", stderr.Trim());
        return stdout;
    }

    [Fact]
    public void PrintedFlagsReadBackAsTheSameMachine()
    {
        string disk = PathOf("disk.img");
        File.WriteAllBytes(disk, new byte[1 << 20]);
        string printed = PrintConfig("--kernel", HelloKernel(), "--cmdline", "console=ttyS0", "--memory", "128M", "--cpus", "2",
            "--accel", "emulate", "--debug-exit", "0xf4", "--no-pit", "--icount", "4", "--disk", $"{disk},format=raw,readonly=on,serial=s1",
            "--net", "tap=kst9", "--rng", "--balloon", "--vsock", $"cid=5,uds={PathOf("v.sock")}", "--virtio-console", "none", "--console", "none");
        var config = MachineConfigJson.Read(printed);
        Assert.Equal(config.Normalize(), config);   // printed normalized: every id, slot and MAC is there
        Assert.Equal(new MachineConfig
        {
            MemorySize = 128UL << 20, VcpuCount = 2, Kernel = new KernelConfig(PathOf("hello.bin"), null, "console=ttyS0"),
            Accelerator = AcceleratorChoice.Emulate, DebugExitPort = 0xF4, LegacyTimer = false, InstructionCountShift = 4,
            Console = new ConsoleConfig(ConsoleKind.None),
            Disks = [new DiskConfig(disk, DiskFormat.Raw, true, "s1")], Nets = [new NetConfig("kst9")],
            Rng = new RngConfig(), Balloon = new BalloonConfig(), Vsock = new VsockConfig(5, PathOf("v.sock")),
            VirtioConsole = new VirtioConsoleConfig(ConsoleKind.None),
        }.Normalize(), config);

        string file = PathOf("vm.json");
        File.WriteAllText(file, printed);
        string again = PrintConfig("--config", file);
        Assert.Equal(printed, again);
        Assert.Equal(config, MachineConfigJson.Read(again));
    }

    [Fact]
    public void AConfigFileRunsItsMachineAndConsoleMayMoveCom1()
    {
        string file = PathOf("vm.json");
        File.WriteAllText(file, PrintConfig("--kernel", HelloKernel(), "--debug-exit", "0xf4", "--accel", "emulate", "--rng", "--console", "none"));
        var (code, stdout, stderr) = CliProcess.Run("run", "--config", file);
        Assert.True(code == 0x21, $"exit status {code}, stderr: {stderr}");
        Assert.Equal("", stdout);   // the file sends COM1 nowhere
        (code, stdout, stderr) = CliProcess.Run("run", "--config", file, "--console", "stdio");
        Assert.True(code == 0x21, $"exit status {code}, stderr: {stderr}");
        Assert.Equal("Hello, world!\n", stdout);
    }

    [Theory]
    [InlineData("--memory", "1G")]
    [InlineData("--kernel", "demo")]
    [InlineData("--rng")]
    [InlineData("--accel", "emulate")]
    public void FlagsThatDescribeTheMachineAreRefusedWithAConfig(params string[] flag)
    {
        string file = PathOf("vm.json");
        File.WriteAllText(file, PrintConfig("--kernel", "demo"));
        var (code, stdout, stderr) = CliProcess.Run(["run", "--config", file, .. flag]);
        Assert.Equal(1, code);
        Assert.Equal($"kvmsharp: error: --config describes the whole machine; leave out {flag[0]} (only --console may go with it, to say where COM1 goes)", stderr.Trim());
        Assert.Equal("", stdout);
    }

    [Theory]
    [InlineData("{\"format_version\": 1,\n \"vcpus\": 2}", "line 2, vcpus: unknown field")]
    [InlineData("{\"format_version\": 3}", "format_version 3 is not supported: this kvmsharp reads version 1")]
    [InlineData("{\"format_version\": 1, \"memory_size\": 4096}", "memory_size: must be between 2M and 1024G")]
    [InlineData("{\"format_version\": 1, \"kernel\": {\"path\": \"/nonexistent/vmlinuz\"}}", "kernel.path: '/nonexistent/vmlinuz' does not exist")]
    [InlineData("{\"format_version\": 1, \"disks\": [{\"path\": \"/nonexistent/d.img\"}]}", "disks[0].path: '/nonexistent/d.img' does not exist")]
    [InlineData("{\"format_version\": 1, \"virtio_console\": {\"kind\": \"stdio\"}}", "virtio_console.kind: stdio needs COM1 elsewhere: set console to none, pty or a socket")]
    public void MistakesInTheFileAreOneLineInTheFilesWords(string json, string expected)
    {
        string file = PathOf("vm.json");
        File.WriteAllText(file, json);
        var (code, stdout, stderr) = CliProcess.Run("run", "--config", file);
        Assert.Equal(1, code);
        Assert.Equal($"kvmsharp: error: {file}: {expected}", stderr.Trim());
        Assert.Equal("", stdout);
    }

    [Fact]
    public void PrintConfigChecksTheFlagsAndSaysMistakesInTheirWords()
    {
        var (code, stdout, stderr) = CliProcess.Run("run", "--kernel", "demo", "--virtio-console", "stdio", "--print-config");
        Assert.Equal(1, code);
        Assert.Equal("kvmsharp: error: --virtio-console stdio needs COM1 elsewhere: set --console to none, pty or a socket", stderr.Trim());
        Assert.Equal("", stdout);
        (code, _, stderr) = CliProcess.Run("run", "--config", PathOf("missing.json"));
        Assert.Equal(1, code);
        Assert.StartsWith($"kvmsharp: error: cannot read the config {PathOf("missing.json")}: ", stderr.Trim());
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
