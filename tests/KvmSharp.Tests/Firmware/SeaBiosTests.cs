using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Runtime;
using KvmSharp.Machine.State;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Firmware;

/// <summary>Debian's SeaBIOS from the reset vector on the software CPU.</summary>
public class SeaBiosTests
{
    [Fact]
    public void SeaBiosRunsItsPostAndSaysWhenNothingBoots()
    {
        Assert.SkipUnless(File.Exists(FirmwareConfig.DebianSeaBios), "Debian's seabios package is not installed");
        var console = new CapturingConsole();
        var debug = new DebugConsolePort();
        var config = new MachineConfig { Firmware = new FirmwareConfig(FirmwareKind.Bios), MemorySize = 128UL << 20 };
        using var machine = new MachineBuilder(config).WithConsole(console).WithPortDevice(DebugConsolePort.Port, 1, debug)
            .WithAccelerator(new EmulatorAccelerator(_ => { })).Build();
        machine.Start();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
        while (!console.Output.Contains("No bootable device", StringComparison.Ordinal) && !machine.Exit.IsCompleted && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        machine.Stop();
        Assert.True(console.Output.Contains("No bootable device", StringComparison.Ordinal),
            $"exit: {(machine.Exit.IsCompleted ? machine.Exit.Result.ToString() : "none")}\nconsole:\n{console.Output}\nSeaBIOS log:\n{debug.Log}");
        Assert.Contains("SeaBIOS (version", console.Output);
        // What it learnt through fw_cfg: the e820 (our ECAM reservation is in its map) and the ACPI tables its
        // loader installed (the FADT found through the XSDT, the DSDT parsed).
        Assert.Contains("Found QEMU fw_cfg", debug.Log);
        Assert.Contains("00000000e0000000 - 00000000f0000000 = 2 RESERVED", debug.Log);
        Assert.Contains("(via xsdt)", debug.Log);
        Assert.Contains("ACPI: parse DSDT", debug.Log);
    }

    [Fact]
    public void AKernelGivenThroughFwCfgIsStartedBySeaBiosAndReachesTheShell()
    {
        Assert.SkipUnless(File.Exists(FirmwareConfig.DebianSeaBios), "Debian's seabios package is not installed");
        Assert.SkipUnless(File.Exists(FirmwareBoot.LinuxBootRom), "Debian's qemu-system-data package (linuxboot_dma.bin) is not installed");
        var guest = DefaultGuestImage.Ensure(DefaultGuestImage.DefaultCacheDirectory, force: false, _ => { });
        var console = new CapturingConsole();
        var config = new MachineConfig
        {
            Firmware = new FirmwareConfig(FirmwareKind.Bios),
            Kernel = new KernelConfig(guest.KernelPath, guest.InitrdPath, DefaultGuestCommandLine.Shell()),
            MemorySize = 256UL << 20,
        };
        using var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(_ => { })).Build();
        machine.Start();
        var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(5);
        while (!console.Output.Contains("kvmsharp:/# ", StringComparison.Ordinal) && !machine.Exit.IsCompleted && DateTime.UtcNow < deadline)
            Thread.Sleep(100);
        Assert.True(console.Output.Contains("kvmsharp:/# ", StringComparison.Ordinal), console.Output.Length > 4000 ? console.Output[^4000..] : console.Output);
        console.Type("cat /proc/cmdline\n");
        deadline = DateTime.UtcNow + TimeSpan.FromMinutes(1);
        while (!console.Output.Contains("panic=-1\r\n", StringComparison.Ordinal) && DateTime.UtcNow < deadline) Thread.Sleep(100);
        machine.Stop();
        Assert.Contains("Booting from ROM...", console.Output);   // SeaBIOS ran linuxboot_dma.bin, first in our bootorder
        Assert.Contains(DefaultGuestCommandLine.Shell() + "\r\n", console.Output);
    }

    [Fact]
    public void AMachineInItsFirmwareIsSnapshottedAndRestoredWithItsFlashAndFwCfg()
    {
        Assert.SkipUnless(File.Exists(FirmwareConfig.DebianSeaBios), "Debian's seabios package is not installed");
        string dir = Directory.CreateTempSubdirectory("kvmsharp-fw-snapshot").FullName;
        try
        {
            var config = new MachineConfig { Firmware = new FirmwareConfig(FirmwareKind.Bios), MemorySize = 64UL << 20 };
            var console = new CapturingConsole();
            MachineState saved;
            string state = Path.Combine(dir, "vm.state"), memory = Path.Combine(dir, "vm.mem");
            using (var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(_ => { })).Build())
            {
                machine.Start();
                var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
                while (!console.Output.Contains("No bootable device.", StringComparison.Ordinal) && DateTime.UtcNow < deadline) Thread.Sleep(50);
                Assert.True(machine.Pause(TimeSpan.FromSeconds(10)));
                MachineSnapshot.Create(machine, state, memory);
                saved = machine.SaveState();
            }
            Assert.NotNull(saved.Platform.FirmwareConfig);
            var read = MachineSnapshot.ReadState(state);
            Assert.Equal(saved.Platform.FirmwareConfig!.Selector, read.Platform.FirmwareConfig!.Selector);
            // The restored machine maps the flash again from the image and goes on in SeaBIOS's wait loop (for ever:
            // etc/boot-fail-wait says never reboot, as QEMU's default); that it runs and stays alive is what is checked here.
            var after = new CapturingConsole();
            using var restored = MachineSnapshot.Load(read, memory, new MachineBuilder(read.Config).WithConsole(after).WithAccelerator(new EmulatorAccelerator(_ => { })));
            Assert.NotNull(restored.Memory.Firmware);
            restored.Resume();
            Thread.Sleep(500);
            Assert.False(restored.Exit.IsCompleted, restored.Exit.IsCompleted ? restored.Exit.Result.ToString() : "");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
