using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Guests;

namespace KvmSharp.Tests.Cli;

/// <summary>--rng, --balloon and --virtio-console: accepted where right, one clear line where wrong.</summary>
public class VirtioMiscOptionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-cli-virtio").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void TheFlagsAreAcceptedAndTheMachineRuns()
    {
        string hello = Path.Combine(_dir, "hello.bin");
        File.WriteAllBytes(hello, TinyGuests.Hello("Hello, world!\n", 0xF4, 0x10));
        var (code, stdout, stderr) = CliProcess.Run("run", "--kernel", hello, "--debug-exit", "0xf4", "--accel", "emulate",
            "--rng", "--balloon", "--virtio-console", "none");
        Assert.True(code == 0x21, $"exit status {code}, stderr: {stderr}");
        Assert.Equal("Hello, world!\n", stdout);
    }

    [Theory]
    [InlineData(new[] { "--virtio-console", "serial" }, "--virtio-console: 'serial' is not one of stdio, pty, none, socket:PATH")]
    [InlineData(new[] { "--virtio-console", "socket:" }, "--virtio-console: 'socket:' is not one of")]
    [InlineData(new[] { "--rng=banana" }, "'banana'")]
    [InlineData(new[] { "--kernel", "demo", "--virtio-console", "stdio" }, "kvmsharp: error: --virtio-console stdio needs COM1 elsewhere: set --console to none, pty or a socket")]
    [InlineData(new[] { "--exec", "true", "--virtio-console", "stdio" }, "kvmsharp: error: --exec prints the command's output on stdout; --virtio-console cannot use stdio")]
    public void BadUseIsOneClearError(string[] flags, string expected)
    {
        var (code, _, stderr) = CliProcess.Run(["run", .. flags]);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void BothConsolesOnOneSocketIsAProblem()
    {
        var config = new MachineConfig
        {
            Console = new ConsoleConfig(ConsoleKind.Socket, "/tmp/x.sock"),
            VirtioConsole = new VirtioConsoleConfig(ConsoleKind.Socket, "/tmp/x.sock"),
        };
        var problem = Assert.Single(config.Validate());
        Assert.Equal("virtio_console.socket_path", problem.Field);
        Assert.Equal("--virtio-console: cannot share the socket /tmp/x.sock with --console", ConfigFlags.Describe(problem));
        Assert.Empty((config with { VirtioConsole = new VirtioConsoleConfig(ConsoleKind.Socket, "/tmp/y.sock") }).Validate());
    }

    [Fact]
    public void StdioOnTheVirtioConsoleNeedsCom1Elsewhere()
    {
        var config = new MachineConfig { VirtioConsole = new VirtioConsoleConfig(ConsoleKind.Stdio) };
        Assert.Equal("virtio_console.kind", Assert.Single(config.Validate()).Field);
        Assert.Empty((config with { Console = new ConsoleConfig(ConsoleKind.None) }).Validate());
    }
}
