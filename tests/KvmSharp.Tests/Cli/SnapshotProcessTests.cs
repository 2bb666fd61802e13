using System.Text.RegularExpressions;
using KvmSharp.Machine.Images;
using KvmSharp.Tests.Api;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Cli;

/// <summary>
/// The issue's end-to-end case on the software CPU: the default guest, driven only through the per-VM API with
/// Firecracker's requests, counts and writes each count to a disk; it is paused and snapshotted, its process is
/// killed, and a new process restores it: the count goes on without a reboot and the disk writes complete. Then it
/// is live-migrated to a third process (the disk handed over), where it goes on counting and writing.
/// </summary>
public sealed partial class SnapshotProcessTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-snapcli").FullName;

    /// <summary>Counts forever; each count goes to the console and, synced, to the start of /dev/vda.</summary>
    private const string Counter =
        "i=0; while true; do i=$((i+1)); echo count $i; printf 'disk %08d\\n' $i | dd of=/dev/vda bs=512 count=1 conv=sync,fsync 2>/dev/null; sleep 0.2; done";

    [Fact]
    public void ASnapshottedGuestGoesOnInANewProcessAndThenMigratesToAThird()
    {
        string disk = Path.Combine(_dir, "disk.raw");
        File.WriteAllBytes(disk, new byte[1 << 20]);
        string statePath = Path.Combine(_dir, "vm.state"), memoryPath = Path.Combine(_dir, "vm.mem");
        string socketA = Path.Combine(_dir, "a.sock"), socketB = Path.Combine(_dir, "b.sock"), socketC = Path.Combine(_dir, "c.sock");
        string incoming = Path.Combine(_dir, "incoming.sock");
        int saved;

        using (var first = new VmmProcess("run", "--api-sock", socketA, "--accel", "emulate"))
        {
            first.WaitForSocket(socketA);
            using var api = new ApiClient(socketA);
            api.Ok("PUT", "/machine-config", """{"vcpu_count": 1, "mem_size_mib": 256}""");
            string args = DefaultGuestCommandLine.Exec(Counter);
            api.Ok("PUT", "/boot-source", $$"""{"kernel_image_path": "{{guest.Guest.KernelPath}}", "initrd_path": "{{guest.Guest.InitrdPath}}", "boot_args": "{{args}}"}""");
            api.Ok("PUT", "/drives/disk", $$"""{"drive_id": "disk", "path_on_host": "{{disk}}", "is_root_device": false, "is_read_only": false}""");
            api.Ok("PUT", "/actions", """{"action_type": "InstanceStart"}""");
            first.WaitUntil(() => LastCount(first.Stdout) >= 3, "the guest did not count to 3");

            api.Ok("PATCH", "/vm", """{"state": "Paused"}""");
            saved = LastCount(first.Stdout);
            Thread.Sleep(500);
            Assert.Equal(saved, LastCount(first.Stdout));   // paused: no console output
            api.Ok("PUT", "/snapshot/create", $$"""{"snapshot_type": "Full", "snapshot_path": "{{statePath}}", "mem_file_path": "{{memoryPath}}"}""");
            first.Kill();
        }

        using var second = new VmmProcess("run", "--api-sock", socketB);
        second.WaitForSocket(socketB);
        using (var api = new ApiClient(socketB))
        {
            api.Ok("PUT", "/snapshot/load", $$"""{"snapshot_path": "{{statePath}}", "mem_backend": {"backend_type": "File", "backend_path": "{{memoryPath}}"}, "resume_vm": true}""");
            Assert.Equal("Running", api.Get("/").GetProperty("state").GetString());
            second.WaitUntil(() => LastCount(second.Stdout) >= saved + 3, $"the restored guest did not count on from {saved}");
            // Its first count is the next one: the same guest went on, it did not boot again.
            Assert.Equal(saved + 1, FirstCount(second.Stdout));
            Assert.DoesNotContain("Linux version", second.Stdout);
        }

        using var third = new VmmProcess("run", "--api-sock", socketC, "--incoming", $"unix:{incoming}");
        third.WaitUntil(() => File.Exists(incoming) && File.Exists(socketC), "the destination did not listen", seconds: 600);
        int beforeMigration = LastCount(second.Stdout);
        using (var api = new ApiClient(socketB))
            api.Ok("PUT", "/migrate", $$"""{"destination_url": "unix:{{incoming}}"}""");
        Assert.True(second.WaitForExit(TimeSpan.FromSeconds(60)), "the source did not exit after the migration");
        Assert.True(second.ExitCode == 0, $"the source exited {second.ExitCode}: {second.Stderr}");
        int handedOver = LastCount(second.Stdout);
        Assert.True(handedOver >= beforeMigration);
        third.WaitUntil(() => LastCount(third.Stdout) >= handedOver + 3, $"the migrated guest did not count on from {handedOver}");
        Assert.Equal(handedOver + 1, FirstCount(third.Stdout));
        Assert.DoesNotContain("Linux version", third.Stdout);
        using (var api = new ApiClient(socketC))
        {
            Assert.Equal("Running", api.Get("/").GetProperty("state").GetString());
            api.Ok("PATCH", "/vm", """{"state": "Paused"}""");
        }
        int last = LastCount(third.Stdout);
        third.Kill();
        Assert.True(third.WaitForExit(TimeSpan.FromSeconds(30)));   // the disk's lock goes with the process
        saved = handedOver;
        string written = File.ReadAllText(disk)[..14];
        Assert.Matches(@"^disk \d{8}\n$", written);
        int onDisk = int.Parse(written[5..13]);
        Assert.InRange(onDisk, saved + 1, last);
    }

    private static int LastCount(string output) => CountLine().Matches(output).Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(0).Last();

    private static int FirstCount(string output) => CountLine().Matches(output).Select(m => int.Parse(m.Groups[1].Value)).DefaultIfEmpty(0).First();

    [GeneratedRegex(@"^count (\d+)\r?$", RegexOptions.Multiline)]
    private static partial Regex CountLine();

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
