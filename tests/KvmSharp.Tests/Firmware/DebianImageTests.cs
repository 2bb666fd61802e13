using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Images.BootDisks;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// <c>kvmsharp image build debian</c>'s disk, booted by SeaBIOS on the software CPU to systemd's login prompt on the
/// serial console. Long (the build fetches and installs Debian, the boot runs systemd on the software CPU), so it
/// runs when KVMSHARP_LONG_TESTS=1 and is reported as skipped otherwise; the image is kept in the user's cache
/// (~/.cache/kvmsharp/test-images, named by <see cref="DebianImage.Recipe"/>) and rebuilt when older than a week. The boot
/// may take KVMSHARP_LONG_TEST_MINUTES (default 60) of wall time.
/// </summary>
public class DebianImageTests
{
    [Fact]
    public void TheBuiltDebianImageBootsToALoginPrompt()
    {
        Assert.SkipUnless(Environment.GetEnvironmentVariable("KVMSHARP_LONG_TESTS") == "1",
            "long: builds a Debian 12 image and boots systemd on the software CPU (KVMSHARP_LONG_TESTS=1 runs it)");
        Assert.SkipUnless(Environment.IsPrivilegedProcess, "image build debian needs root");
        string directory = Path.Combine(DefaultGuestImage.CacheRoot, "test-images");
        Directory.CreateDirectory(directory);
        string image = Path.Combine(directory, $"debian-r{DebianImage.Recipe}.qcow2");
        int minutes = int.TryParse(Environment.GetEnvironmentVariable("KVMSHARP_LONG_TEST_MINUTES"), out int m) && m > 0 ? m : 60;
        if (!File.Exists(image) || File.GetLastWriteTimeUtc(image) < DateTime.UtcNow.AddDays(-7))
            DebianImage.Build(image, DebianImage.DefaultSize, _ => { });
        string overlay = Path.Combine(Directory.CreateTempSubdirectory("kvmsharp-debian-boot").FullName, "boot.qcow2");
        try
        {
            // The cached image stays pristine: the boot writes into an overlay.
            Qcow2Overlay(image, overlay);
            var console = new CapturingConsole();
            var config = new MachineConfig
            {
                Firmware = new FirmwareConfig(FirmwareKind.Bios),
                MemorySize = 1UL << 30,
                Disks = [new DiskConfig(overlay, DiskFormat.Qcow2)],
            };
            using var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(_ => { })).Build();
            var started = DateTime.UtcNow;
            machine.Start();
            while (!console.Output.Contains("login:", StringComparison.Ordinal) && !machine.Exit.IsCompleted && DateTime.UtcNow < started.AddMinutes(minutes))
                Thread.Sleep(500);
            machine.Stop();
            string output = console.Output;
            File.WriteAllText(Path.Combine(directory, "last-boot.log"), $"{(DateTime.UtcNow - started).TotalSeconds:F0} s\n{output}");
            Assert.True(output.Contains("login:", StringComparison.Ordinal), $"no login prompt; the console ended:\n{(output.Length > 5000 ? output[^5000..] : output)}");
            Assert.Contains("Debian GNU/Linux 12", output);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(overlay)!, recursive: true);
        }
    }

    private static void Qcow2Overlay(string backing, string overlay) =>
        KvmSharp.Storage.Qcow2Creator.Create(overlay, (long)DebianImage.DefaultSize, backingFile: backing);
}
