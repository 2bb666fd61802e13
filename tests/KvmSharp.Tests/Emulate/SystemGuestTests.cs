using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Emulate.Guests;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// Multiboot guests that use the system architecture, run on the software CPU through the multiboot
/// loader. Expected output was checked once against QEMU 7.2 TCG running the same image
/// (`qemu-system-x86_64 -M microvm,accel=tcg -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel …`);
/// set KVMSHARP_WRITE_GUESTS=DIR to get the images as files for that.
/// </summary>
public class SystemGuestTests
{
    internal static byte[] Image(string name, byte[] image)
    {
        if (Environment.GetEnvironmentVariable("KVMSHARP_WRITE_GUESTS") is { Length: > 0 } dir)
            File.WriteAllBytes(Path.Combine(dir, name + ".bin"), image);
        return image;
    }

    [Fact]
    public void LongModePagingFaultsInterruptsAndRing3SystemCalls()
    {
        using var vm = new TestMachine(Image("system-tour", SystemTourGuest.Build()), accelerator: "emulate");
        var exit = vm.RunToEnd();
        Assert.True(exit.Reason == MachineExitReason.DebugExit, $"{exit}; console:\n{vm.Console.Output}\nnotices: {string.Join("; ", vm.Notices)}");
        Assert.Equal(SystemTourGuest.ExitStatus, exit.ExitStatus);
        Assert.Equal(SystemTourGuest.ExpectedOutput, vm.Console.Output);
        Assert.Empty(vm.Notices);
    }

    [Fact]
    public void Sse2StringWorkMatchesQemu()
    {
        using var vm = new TestMachine(Image("sse2-strings", Sse2StringGuest.Build()), accelerator: "emulate");
        var exit = vm.RunToEnd();
        Assert.True(exit.Reason == MachineExitReason.DebugExit, $"{exit}; console:\n{vm.Console.Output}\nnotices: {string.Join("; ", vm.Notices)}");
        Assert.Equal((0x21 << 1) | 1, exit.ExitStatus);
        Assert.Equal(Sse2StringGuest.ExpectedOutput, vm.Console.Output);
        Assert.Empty(vm.Notices);
    }

    [Fact]
    public void X87LongDoubleWorkMatchesQemu()
    {
        using var vm = new TestMachine(Image("x87", X87Guest.Build()), accelerator: "emulate");
        var exit = vm.RunToEnd();
        Assert.True(exit.Reason == MachineExitReason.DebugExit, $"{exit}; console:\n{vm.Console.Output}\nnotices: {string.Join("; ", vm.Notices)}");
        Assert.Equal((0x23 << 1) | 1, exit.ExitStatus);
        Assert.Equal(X87Guest.ExpectedOutput, vm.Console.Output);
        Assert.Empty(vm.Notices);
    }
}
