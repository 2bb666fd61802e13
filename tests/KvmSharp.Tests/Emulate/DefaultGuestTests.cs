using System.Globalization;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// <c>kvmsharp run --accel emulate --exec</c> on the default guest, as a user runs it: the Debian kernel
/// boots on the software CPU, /init runs the command, and the process prints its output and exits with
/// its status; and the shell boot with the kernel's own console output, typed into. What these expect
/// was checked on QEMU TCG with the same kernel, initramfs and command lines. The image is built once (the fixture, shared with the other Debian kernel tests) and the
/// CLI reuses it from the cache.
/// </summary>
public class DefaultGuestTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>
{
    private static (int Code, string Stdout, string Stderr) Exec(string command, params string[] flags)
    {
        // --icount 0: guest time follows instructions (1 ns each), so the boot is reproducible and idle time is skipped.
        var result = CliProcess.Run(["run", "--accel", "emulate", "--icount", "0", "--exec", command, .. flags]);
        Assert.DoesNotContain("is not implemented", result.Stderr);
        return result;
    }

    [Fact]
    public void UnamePrintsTheDebianKernelRelease()
    {
        var (code, stdout, stderr) = Exec("uname -r");
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        Assert.Equal(guest.Guest.KernelRelease + "\n", stdout);
    }

    [Fact]
    public void TheCommandsExitStatusIsTheProcessExitStatus()
    {
        var (code, stdout, stderr) = Exec("echo failing; exit 3");
        Assert.True(code == 3, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        Assert.Equal("failing\n", stdout);
    }

    [Fact]
    public void TwoVcpusAreTwoProcessorsInCpuinfo()
    {
        var (code, stdout, stderr) = Exec("cat /proc/cpuinfo", "--cpus", "2");
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        var processors = stdout.Split('\n').Where(l => l.StartsWith("processor", StringComparison.Ordinal)).ToArray();
        Assert.Equal(2, processors.Length);
    }

    [Fact]
    public void SleepReturnsAndTheGuestClockAdvances()
    {
        // /proc/uptime's first field is the guest's own seconds since boot: what it says, not host time.
        var (code, stdout, stderr) = Exec("cut -d' ' -f1 /proc/uptime; sleep 1; cut -d' ' -f1 /proc/uptime");
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}, stdout: {stdout}");
        // decimal, not double: /proc/uptime has hundredths, and 13.34 - 12.34 in binary is 0.99999…
        var uptimes = stdout.Trim().Split('\n').Select(l => decimal.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(2, uptimes.Length);
        Assert.True(uptimes[1] - uptimes[0] >= 1.0m, $"the guest clock advanced {uptimes[1] - uptimes[0]} s across sleep 1");
    }

    [Fact]
    public void TheShellBootShowsTheKernelsOwnConsoleAndAnswersTyping()
    {
        var console = new CapturingConsole();
        var notices = new List<string>();
        var config = new MachineConfig
        {
            Kernel = new KernelConfig(guest.Guest.KernelPath, guest.Guest.InitrdPath, DefaultGuestCommandLine.Shell()),
        };
        using var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(notices.Add)).Build();
        machine.Start();
        bool prompted = WaitFor(() => console.Output.Contains("kvmsharp:/# ", StringComparison.Ordinal) || machine.Exit.IsCompleted, TimeSpan.FromMinutes(5));
        if (prompted && !machine.Exit.IsCompleted)
        {
            console.Type("echo $((6 * 7)); exit\n");
            WaitFor(() => machine.Exit.IsCompleted, TimeSpan.FromMinutes(1));
        }
        machine.Stop();
        string output = console.Output;
        string tail = output[Math.Max(0, output.Length - 3000)..];
        Assert.True(machine.Exit.IsCompletedSuccessfully && machine.Exit.Result.Reason == MachineExitReason.PowerOff,
            $"the shell did not answer and power off; notices: {string.Join("; ", notices)}; last output:\n{tail}");
        Assert.Contains("Run /init as init process", output);          // KERN_INFO: shown because there is no 'quiet'
        Assert.Contains("KvmSharp default guest (Linux " + guest.Guest.KernelRelease, output);
        Assert.Contains("\n42\r\n", output);
        Assert.Empty(notices);
        foreach (string bad in new[] { "Oops", "BUG:", "WARNING:", "invalid opcode", "general protection fault", "init: could not load" })
            Assert.DoesNotContain(bad, output);
    }

    private static bool WaitFor(Func<bool> condition, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) return false;
            Thread.Sleep(100);
        }
        return true;
    }
}
