using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// The stock Debian cloud kernel on the software CPU with two vCPUs and instruction-counted time (so
/// the idle waits of device probing cost nothing). Without an initramfs the furthest it can get is its
/// own "unable to mount root fs" panic: reaching it means every instruction on the way was executed
/// well enough, the local APICs, the TSC-deadline timer and kvmclock worked (Linux takes the TSC
/// frequency from kvmclock and skips calibrating), the second vCPU came up through INIT/SIPI, and the
/// kernel reported no oops, BUG or unimplemented instruction on the way.
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
            VcpuCount = 2,
            InstructionCountShift = 0,
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
        Assert.Contains("kvm-clock: Using msrs 4b564d01 and 4b564d00", output);
        Assert.Contains("tsc: Detected 1000.000 MHz processor", output);
        Assert.Contains("TSC deadline timer available", output);
        Assert.Contains("Calibrating delay loop (skipped)", output);
        Assert.Contains("smp: Brought up 1 node, 2 CPUs", output);
        Assert.Contains("clocksource: Switched to clocksource kvm-clock", output);
        Assert.Empty(notices);
        foreach (string bad in new[] { "No local APIC present", "Oops", "BUG:", "WARNING:", "invalid opcode", "general protection fault" })
            Assert.DoesNotContain(bad, output);
    }
}
