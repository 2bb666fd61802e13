using KvmSharp.Machine.Guests;
using KvmSharp.Tests.Kvm;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Cli;

/// <summary>`kvmsharp run` as a process: exit statuses, console output and one-line errors for user mistakes.</summary>
public class RunCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-cli").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteGuest(string name, byte[] image)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, image);
        return path;
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void FlatMultibootGuestPrintsAndExitsThroughTheDebugPort(string accelerator)
    {
        KvmRequirement.EnsureFor(accelerator);
        string hello = WriteGuest("hello.bin", TinyGuests.Hello("Hello, world!\n", 0xF4, 0x10));
        var (code, stdout, stderr) = CliProcess.Run("run", "--kernel", hello, "--debug-exit", "0xf4", "--accel", accelerator);
        Assert.True(code == 0x21, $"exit status {code}, stderr: {stderr}");
        Assert.Equal("Hello, world!\n", stdout);
        Assert.Equal("", stderr.Trim());
    }

    [Theory]
    [InlineData("kvm")]
    [InlineData("emulate")]
    public void DemoGuestRunsAsKernelDemoAndPowersOff(string accelerator)
    {
        KvmRequirement.EnsureFor(accelerator);
        var (code, stdout, stderr) = CliProcess.Run("run", "--kernel", "demo", "--accel", accelerator, "--memory", "128M");
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}");
        Assert.Contains("Multiboot says there is 0x0001fc00 KiB", stdout);
    }

    [Fact]
    public void AnInstructionKvmCannotRunIsReportedAsOneLineWithItsBytes()
    {
        KvmRequirement.Ensure();
        // Only a software-backed KVM fails at SSE; hardware KVM runs it, so there is nothing to provoke there.
        if (!KvmRequirement.IsSoftwareBacked)
            Assert.Skip("needs a KVM that cannot emulate SSE (kvm_pvm); this host's KVM is hardware virtualization");
        string sse = WriteGuest("sse.bin", MultibootFlatImage.Build(a =>
        {
            a.mov(eax, cr4);
            a.or(eax, 0x600);            // OSFXSR | OSXMMEXCPT: SSE allowed
            a.mov(cr4, eax);
            a.pxor(xmm0, xmm0);
            a.mov(dx, 0xF4);
            a.mov(al, 0x11);
            a.@out(dx, al);
        }));
        var (code, _, stderr) = CliProcess.Run("run", "--kernel", sse, "--debug-exit", "0xf4", "--accel", "kvm");
        Assert.Equal(1, code);
        var lines = stderr.Trim().Split('\n');
        Assert.Single(lines);
        Assert.Contains("bytes 66 0f ef c0: pxor xmm0,xmm0", lines[0]);
        Assert.StartsWith("kvmsharp: error:", lines[0]);
    }

    [Fact]
    public void AutoAcceleratorProbesKvmAndExplainsItsChoiceInOneLine()
    {
        var (code, stdout, stderr) = CliProcess.Run("run", "--kernel", "demo");
        Assert.True(code == 0, $"exit status {code}, stderr: {stderr}");
        Assert.Contains("KvmSharp demo guest", stdout);
        if (KvmRequirement.IsSoftwareBacked || !KvmRequirement.IsAvailable)
        {
            var lines = stderr.Trim().Split('\n');
            Assert.Single(lines);
            Assert.Contains("using the software CPU (--accel emulate)", lines[0]);
        }
        else
        {
            Assert.DoesNotContain("software CPU", stderr);   // hardware KVM: auto keeps it
        }
    }

    [Theory]
    [InlineData("--memory", "banana", "--memory: 'banana' is not a size")]
    [InlineData("--cpus", "0", "--cpus: '0' is not a number from 1 to 255")]
    [InlineData("--debug-exit", "0x10000", "--debug-exit: '0x10000' is not a number")]
    [InlineData("--console", "serial", "--console: 'serial' is not one of")]
    [InlineData("--accel", "tcg", "tcg")]
    [InlineData("--icount", "11", "--icount: '11' is not a number from 0 to 0xa")]
    public void BadFlagValuesGetAClearErrorAndNoStackTrace(string flag, string value, string expected)
    {
        var (code, _, stderr) = CliProcess.Run("run", flag, value);
        Assert.NotEqual(0, code);
        Assert.Contains(expected, stderr);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void IcountWithKvmIsOneLine()
    {
        var (code, _, stderr) = CliProcess.Run("run", "--icount", "3", "--accel", "kvm");
        Assert.Equal(1, code);
        Assert.Equal("kvmsharp: error: --icount needs the software CPU (--accel emulate): KVM runs guests in real time", stderr.Trim());
    }

    [Fact]
    public void IcountRunsTheGuestOnTheSoftwareCpu()
    {
        string hello = WriteGuest("hello-icount.bin", TinyGuests.Hello("Hello, world!\n", 0xF4, 0x10));
        var (code, stdout, stderr) = CliProcess.Run("run", "--kernel", hello, "--debug-exit", "0xf4", "--icount", "2");
        Assert.True(code == 0x21, $"exit status {code}, stderr: {stderr}");
        Assert.Equal("Hello, world!\n", stdout);
        Assert.Equal("", stderr);   // --icount makes auto choose the software CPU without probing KVM
    }

    [Fact]
    public void MissingKernelIsOneLine()
    {
        var (code, _, stderr) = CliProcess.Run("run", "--kernel", "/nonexistent/vmlinuz", "--accel", "kvm");
        Assert.Equal(1, code);
        Assert.Equal("kvmsharp: error: kernel '/nonexistent/vmlinuz' does not exist", stderr.Trim());
    }

    [Fact]
    public void AFileThatIsNoKernelIsRejectedClearly()
    {
        // The loader refuses it before any vCPU runs: any accelerator shows the same.
        string junk = WriteGuest("junk.bin", new byte[8192]);
        var (code, _, stderr) = CliProcess.Run("run", "--kernel", junk, "--accel", "emulate");
        Assert.Equal(1, code);
        var lines = stderr.Trim().Split('\n');
        Assert.Single(lines);
        Assert.Contains("bzImage", lines[0]);
        Assert.DoesNotContain("   at ", stderr);
    }

    [Fact]
    public void TooMuchMemoryForTheMachineIsRefused()
    {
        var (code, _, stderr) = CliProcess.Run("run", "--kernel", "demo", "--memory", "2T", "--accel", "kvm");
        Assert.Equal(1, code);
        Assert.Contains("--memory must be between", stderr);
    }

    [Theory]
    [InlineData(new[] { "--exec", "uname -a", "--kernel", "demo" }, "kvmsharp: error: --exec runs its command in the default guest; leave out --kernel")]
    [InlineData(new[] { "--exec", "uname -a", "--console", "pty" }, "kvmsharp: error: --exec prints the command's output on stdout; leave out --console")]
    [InlineData(new[] { "--exec", "" }, "kvmsharp: error: --exec needs a command, as in --exec 'uname -a'")]
    [InlineData(new[] { "--initrd", "/etc/hostname" }, "kvmsharp: error: --initrd needs --kernel PATH (the default guest brings its own)")]
    [InlineData(new[] { "--initrd", "/etc/hostname", "--kernel", "demo" }, "kvmsharp: error: --initrd needs --kernel PATH (the default guest brings its own)")]
    public void FlagsThatDoNotGoTogetherAreOneLine(string[] flags, string expected)
    {
        var (code, stdout, stderr) = CliProcess.Run(["run", .. flags]);
        Assert.Equal(1, code);
        Assert.Equal(expected, stderr.Trim());
        Assert.Equal("", stdout);
    }

    [Fact]
    public void AnExecCommandTooLongForTheKernelCommandLineIsOneLine()
    {
        var (code, _, stderr) = CliProcess.Run("run", "--exec", "echo " + new string('x', 3000));
        Assert.Equal(1, code);
        Assert.StartsWith("kvmsharp: error: --exec: the command is too long for the kernel command line", stderr.Trim());
        Assert.Single(stderr.Trim().Split('\n'));
    }
}
