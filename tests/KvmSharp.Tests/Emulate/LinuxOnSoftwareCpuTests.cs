using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// The stock Debian cloud kernel on the software CPU. Without an initramfs and without interrupt
/// controllers for this backend (issue 4) the furthest it can get is its own "unable to mount root fs"
/// panic: reaching it means every instruction on the way was executed well enough, and the kernel
/// reported no oops, BUG or unimplemented instruction on the way.
/// </summary>
public class LinuxOnSoftwareCpuTests(DebianKernelFixture kernel) : IClassFixture<DebianKernelFixture>
{
    [Fact]
    public void DebianKernelBootsToItsRootMountPanic()
    {
        var console = new CapturingConsole();
        var notices = new List<string>();
        var config = new MachineConfig
        {
            Kernel = new KernelConfig(kernel.KernelPath, CommandLine: "console=ttyS0"),
            MemorySize = 256UL << 20,
        };
        using var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(notices.Add)).Build();
        machine.Start();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (!console.Output.Contains("end Kernel panic", StringComparison.Ordinal) && !machine.Exit.IsCompleted && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        machine.Stop();
        string output = console.Output;
        Assert.True(output.Contains("VFS: Unable to mount root fs", StringComparison.Ordinal),
            $"the kernel did not reach its root-mount panic within 5 minutes; last output:\n{output[Math.Max(0, output.Length - 3000)..]}\nnotices: {string.Join("; ", notices)}");
        Assert.Contains("Linux version 6.", output);
        Assert.Empty(notices);
        foreach (string bad in new[] { "Oops", "BUG:", "WARNING:", "invalid opcode", "general protection fault" })
            Assert.DoesNotContain(bad, output);
    }
}
