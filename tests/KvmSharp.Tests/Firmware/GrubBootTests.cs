using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// A PC's whole boot on the software CPU: SeaBIOS from the reset vector finds the virtio disk, runs GRUB's MBR code,
/// GRUB reads its menu and the kernel from the ext4 partition through the BIOS, starts Linux through its real-mode
/// entry, and the default guest's shell answers.
/// </summary>
public class GrubBootTests(GrubDiskFixture disk) : IClassFixture<GrubDiskFixture>
{
    [Fact]
    public void SeaBiosBootsGrubFromAQcow2OverlayToTheDefaultGuestShell()
    {
        // The raw disk as the backing file of a qcow2 overlay made by qemu-img: the guest's writes stay in the overlay.
        string overlay = disk.TemporaryPath("overlay.qcow2");
        var made = Tool("qemu-img", "create", "-q", "-f", "qcow2", "-b", disk.DiskPath, "-F", "raw", overlay);
        Assert.True(made.Code == 0, made.Error);
        var console = new CapturingConsole();
        using var machine = Boot(overlay, DiskFormat.Qcow2, console);
        bool prompted = WaitFor(() => console.Output.Contains("kvmsharp:/# ", StringComparison.Ordinal) || machine.Exit.IsCompleted, TimeSpan.FromMinutes(5));
        Assert.True(prompted && !machine.Exit.IsCompleted, $"no shell prompt; the console showed:\n{Tail(console.Output)}");
        console.Type("echo fw-$((6*7)); cat /proc/cmdline\n");
        Assert.True(WaitFor(() => console.Output.Contains("fw-42", StringComparison.Ordinal), TimeSpan.FromMinutes(1)), Tail(console.Output));
        machine.Stop();
        string output = console.Output;
        Assert.Contains("Booting from Hard Disk...", output);
        Assert.Contains("Booting `kvmsharp default guest'", output);
        Assert.Contains("BOOT_IMAGE=/boot/vmlinuz", output);
        Assert.Contains("DMI: KvmSharp KvmSharp Virtual Machine", output);   // our SMBIOS tables, installed by SeaBIOS
        foreach (string bad in new[] { "Oops", "BUG:", "invalid opcode", "general protection fault" }) Assert.DoesNotContain(bad, output);
    }

    [Fact]
    public void SeaBiosBootsTheRawDiskIntoLinux()
    {
        var console = new CapturingConsole();
        using var machine = Boot(disk.DiskPath, DiskFormat.Raw, console);
        // Up to the kernel's first line is the firmware's and GRUB's part; the rest is the test above.
        bool started = WaitFor(() => console.Output.Contains("Linux version 6.", StringComparison.Ordinal) || machine.Exit.IsCompleted, TimeSpan.FromMinutes(3));
        machine.Stop();
        Assert.True(started, $"Linux did not start; the console showed:\n{Tail(console.Output)}");
        Assert.Contains("Command line: BOOT_IMAGE=/boot/vmlinuz", console.Output);
    }

    [Fact]
    public void SeaBiosBootsTheDiskWithBootIndex1BehindABlankDataDiskListedFirst()
    {
        // Without a boot order SeaBIOS would try the blank disk (the first on the bus) and stop: "not a bootable disk".
        string blank = disk.TemporaryPath("blank.raw");
        File.WriteAllBytes(blank, new byte[1 << 20]);
        var config = new MachineConfig
        {
            Firmware = new FirmwareConfig(FirmwareKind.Bios) { StrictBoot = true },
            MemorySize = 256UL << 20,
            Disks = [new DiskConfig(blank, DiskFormat.Raw), new DiskConfig(disk.DiskPath, DiskFormat.Raw) { BootIndex = 1 }],
        };
        var console = new CapturingConsole();
        var debug = new DebugConsolePort();
        using var machine = new MachineBuilder(config).WithConsole(console).WithPortDevice(DebugConsolePort.Port, 1, debug)
            .WithAccelerator(new EmulatorAccelerator(_ => { })).Build();
        machine.Start();
        bool started = WaitFor(() => console.Output.Contains("Linux version 6.", StringComparison.Ordinal)
                                     || console.Output.Contains("No bootable device", StringComparison.Ordinal) || machine.Exit.IsCompleted, TimeSpan.FromMinutes(3));
        machine.Stop();
        Assert.True(started && console.Output.Contains("Linux version 6.", StringComparison.Ordinal),
            $"Linux did not start; the console showed:\n{Tail(console.Output)}\nSeaBIOS log:\n{Tail(debug.Log)}");
        // SeaBIOS read our file (its log lists each line) and took the second disk, in slot 2, as drive 0x80.
        Assert.Contains("1: /pci@i0cf8/scsi@2/disk@0,0", debug.Log);
        Assert.Contains("2: HALT", debug.Log);
        Assert.Contains("Booting from Hard Disk...", console.Output);
        Assert.DoesNotContain("not a bootable disk", console.Output);
        Assert.Contains("Command line: BOOT_IMAGE=/boot/vmlinuz", console.Output);
    }

    private static RunningMachine Boot(string path, DiskFormat format, CapturingConsole console)
    {
        var config = new MachineConfig
        {
            Firmware = new FirmwareConfig(FirmwareKind.Bios),
            MemorySize = 256UL << 20,
            Disks = [new DiskConfig(path, format)],
        };
        var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(_ => { })).Build();
        machine.Start();
        return machine;
    }

    private static (int Code, string Error) Tool(string program, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo(program) { RedirectStandardError = true };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        using var process = System.Diagnostics.Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error);
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

    private static string Tail(string text) => text.Length > 4000 ? "…" + text[^4000..] : text;
}
