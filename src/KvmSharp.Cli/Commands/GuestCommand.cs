using System.CommandLine;
using KvmSharp.Cli.Parsing;
using KvmSharp.Machine.Guests;

namespace KvmSharp.Cli.Commands;

/// <summary><c>kvmsharp guest build NAME --out FILE</c>: writes one of the built-in tiny multiboot guests to a file (for benchmarks and trying things with QEMU).</summary>
internal static class GuestCommand
{
    public static Command Create()
    {
        var name = new Argument<string>("name") { Description = "hello | port-loop | cpu-loop | demo" };
        var output = new Option<FileInfo>("--out") { Description = "File to write", Required = true };
        var port = Options.OptionalNumber("--debug-exit", "Debug-exit port the guest writes to at the end (default 0xf4)", 0xFFFF);
        var count = Options.Count("--count", "Port exits for port-loop, loop iterations for cpu-loop", 100_000, int.MaxValue);
        var build = new Command("build", "Write a built-in tiny guest to a file") { name, output, port, count };
        build.SetAction(result => UserErrors.Guard(() =>
        {
            ushort exitPort = (ushort)(result.GetValue(port) ?? 0xF4);
            byte[] image = result.GetValue(name) switch
            {
                "hello" => TinyGuests.Hello("Hello, world!\n", exitPort, 0x10),
                "port-loop" => TinyGuests.PortExitLoop(result.GetValue(count), exitPort),
                "cpu-loop" => TinyGuests.CpuLoop(result.GetValue(count), exitPort),
                "demo" => DemoGuest.Build(),
                var other => throw new Machine.Config.MachineConfigException($"no built-in guest named '{other}' (hello, port-loop, cpu-loop, demo)"),
            };
            File.WriteAllBytes(result.GetValue(output)!.FullName, image);
            return 0;
        }));
        return new Command("guest", "Built-in tiny guests") { build };
    }
}
