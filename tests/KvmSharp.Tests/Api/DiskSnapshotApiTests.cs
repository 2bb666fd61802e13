using KvmSharp.Api;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Guests;
using KvmSharp.Storage;
using KvmSharp.Tests.Machine;
using KvmSharp.Tests.Storage;

namespace KvmSharp.Tests.Api;

/// <summary>
/// PUT and DELETE /disk-snapshots/{name} (ours): internal snapshots of the running VMM's qcow2 disks, taken on the
/// paused machine in the images it has open, which qemu-img then lists; raw and read-only disks are left alone.
/// </summary>
public sealed class DiskSnapshotApiTests : IDisposable
{
    private readonly StorageScratch _scratch = new();

    [Fact]
    public void InternalSnapshotsOfThePausedMachinesQcow2DisksAreQemus()
    {
        string kernel = _scratch.PathOf("halt.bin");
        File.WriteAllBytes(kernel, MultibootFlatImage.Build(TinyGuests.EmitHaltForever));
        string qcow2 = _scratch.PathOf("disk.qcow2"), raw = _scratch.PathOf("disk.raw"), readOnly = _scratch.PathOf("ro.qcow2");
        Qcow2Creator.Create(qcow2, 1 << 20);
        Qcow2Creator.Create(readOnly, 1 << 20);
        File.WriteAllBytes(raw, new byte[1 << 20]);
        var config = new MachineConfig
        {
            Accelerator = AcceleratorChoice.Emulate, Kernel = new KernelConfig(kernel), MemorySize = 64UL << 20,
            Disks = [new DiskConfig(qcow2, DiskFormat.Qcow2), new DiskConfig(raw, DiskFormat.Raw), new DiskConfig(readOnly, DiskFormat.Qcow2, ReadOnly: true)],
        };
        using var machine = new MachineController(config, new MachineControllerOptions { Console = new CapturingConsole() });
        string socket = _scratch.PathOf("api.sock");
        using var server = VmApiServer.Start(socket, new VmApi(machine, "disk-snapshots", bootSourceGiven: true));
        using var api = new ApiClient(socket);
        _api = api;

        Assert.Contains("has not started", api.Refused("PUT", "/disk-snapshots/s1", null, "cannot"));
        api.Ok("PUT", "/actions", """{"action_type": "InstanceStart"}""");
        api.Refused("PUT", "/disk-snapshots/s1", null, "the machine is running");
        api.Ok("PATCH", "/vm", """{"state": "Paused"}""");

        Assert.Equal([qcow2], Images("PUT", "/disk-snapshots/s1"));
        Assert.Matches(@"(?m)^1\s+s1\s", _scratch.QemuImgOk("snapshot", "-l", "-U", qcow2));
        Assert.DoesNotContain("s1", _scratch.QemuImgOk("snapshot", "-l", "-U", readOnly));
        api.Refused("PUT", "/disk-snapshots/s1", null, "already has a snapshot named 's1'");
        Assert.Equal([qcow2], Images("PUT", "/disk-snapshots/s2"));

        // Deleting needs no pause: the image serializes it with the guest's requests.
        api.Ok("PATCH", "/vm", """{"state": "Resumed"}""");
        Assert.Equal([qcow2], Images("DELETE", "/disk-snapshots/s1"));
        Assert.Empty(Images("DELETE", "/disk-snapshots/s1"));
        string listing = _scratch.QemuImgOk("snapshot", "-l", "-U", qcow2);
        Assert.DoesNotContain(" s1 ", listing);
        Assert.Contains("s2", listing);
        machine.Stop();
        machine.WaitForExit();
        _scratch.AssertQemuCheckClean(qcow2);
    }

    private ApiClient? _api;

    private string[] Images(string method, string path)
    {
        var (status, body) = _api!.Send(method, path);
        Assert.True(status == 200, $"{method} {path}: {status} {body}");
        using var document = System.Text.Json.JsonDocument.Parse(body);
        return [.. document.RootElement.GetProperty("images").EnumerateArray().Select(e => e.GetString()!)];
    }

    public void Dispose() => _scratch.Dispose();
}
