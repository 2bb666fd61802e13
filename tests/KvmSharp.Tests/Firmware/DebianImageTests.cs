using KvmSharp.Accelerators.Emulate;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Images;
using KvmSharp.Machine.Images.BootDisks;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// <c>kvmsharp image build debian</c>'s disk, booted by SeaBIOS on the software CPU to systemd's login prompt on the
/// serial console, with a cloud-init NoCloud seed (as <c>run --cloud-init</c> attaches it) whose user-data adds a user
/// with a password: logging in as that user on the console shows that cloud-init honoured the seed. Long (the build fetches and installs Debian, the boot runs systemd on the software CPU), so it
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
        string work = Directory.CreateTempSubdirectory("kvmsharp-debian-boot").FullName;
        string overlay = Path.Combine(work, "boot.qcow2"), userData = Path.Combine(work, "user-data"), seed = Path.Combine(work, "seed.iso");
        try
        {
            // The cached image stays pristine: the boot writes into an overlay.
            Qcow2Overlay(image, overlay);
            File.WriteAllText(userData, """
                #cloud-config
                users:
                  - name: guest
                    lock_passwd: false
                    plain_text_passwd: kvmsharp-cloud
                    shell: /bin/bash
                """);
            CloudInitSeed.Write(seed, userData, metaDataPath: null);
            var console = new CapturingConsole();
            var config = new MachineConfig
            {
                Firmware = new FirmwareConfig(FirmwareKind.Bios),
                MemorySize = 1UL << 30,
                Disks = [new DiskConfig(overlay, DiskFormat.Qcow2), new DiskConfig(seed, DiskFormat.Raw, ReadOnly: true)],
            };
            using var machine = new MachineBuilder(config).WithConsole(console).WithAccelerator(new EmulatorAccelerator(_ => { })).Build();
            var started = DateTime.UtcNow;
            machine.Start();
            while (!console.Output.Contains("login:", StringComparison.Ordinal) && !machine.Exit.IsCompleted && DateTime.UtcNow < started.AddMinutes(minutes))
                Thread.Sleep(500);
            double toLogin = (DateTime.UtcNow - started).TotalSeconds;
            bool loggedIn = false;
            if (console.Output.Contains("login:", StringComparison.Ordinal))
            {
                console.Type("guest\n");
                WaitFor(console, "Password:", TimeSpan.FromMinutes(2));
                console.Type("kvmsharp-cloud\n");
                WaitFor(console, "guest@debian", TimeSpan.FromMinutes(3));
                console.Type("echo cloud-$((6*7)) $(id -un)\n");
                loggedIn = WaitFor(console, "cloud-42 guest", TimeSpan.FromMinutes(2));
            }
            machine.Stop();
            string output = console.Output;
            File.WriteAllText(Path.Combine(directory, "last-boot.log"), $"login prompt after {toLogin:F0} s\n{output}");
            Assert.True(output.Contains("login:", StringComparison.Ordinal), $"no login prompt; the console ended:\n{(output.Length > 5000 ? output[^5000..] : output)}");
            Assert.Contains("Debian GNU/Linux 12", output);
            Assert.True(loggedIn, $"the user cloud-init was to add could not log in; the console ended:\n{(output.Length > 3000 ? output[^3000..] : output)}");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static bool WaitFor(CapturingConsole console, string text, TimeSpan limit)
    {
        var deadline = DateTime.UtcNow + limit;
        while (!console.Output.Contains(text, StringComparison.Ordinal) && DateTime.UtcNow < deadline) Thread.Sleep(500);
        return console.Output.Contains(text, StringComparison.Ordinal);
    }

    private static void Qcow2Overlay(string backing, string overlay) =>
        KvmSharp.Storage.Qcow2Creator.Create(overlay, (long)DebianImage.DefaultSize, backingFile: backing);
}
