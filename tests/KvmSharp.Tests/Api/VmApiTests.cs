using KvmSharp.Api;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Guests;
using KvmSharp.Machine.Runtime;
using KvmSharp.Tests.Machine;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Api;

/// <summary>The per-VM API over its Unix socket, driven with Firecracker's requests by a plain HTTP client.</summary>
public sealed class VmApiTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-api").FullName;
    private readonly CapturingConsole _console = new();
    private readonly MachineController _machine;
    private readonly VmApiServer _server;
    private readonly ApiClient _api;

    private string Socket => Path.Combine(_dir, "api.sock");

    /// <summary>Waits for a key from the i8042, then reports it through the debug-exit port at 0xF4.</summary>
    private static readonly byte[] KeyReadingGuest = MultibootFlatImage.Build(a =>
    {
        var wait = a.CreateLabel();
        a.Label(ref wait);
        a.@in(al, 0x64);
        a.test(al, 1);
        a.jz(wait);
        a.@in(al, 0x60);
        a.@out(0xF4, al);
        TinyGuests.EmitHaltForever(a);
    });

    public VmApiTests()
    {
        var config = new MachineConfig { Accelerator = AcceleratorChoice.Emulate, DebugExitPort = 0xF4 };
        _machine = new MachineController(config, new MachineControllerOptions { Console = _console });
        _server = VmApiServer.Start(Socket, new VmApi(_machine, "test-vm", bootSourceGiven: false));
        _api = new ApiClient(Socket);
    }

    private string WriteFile(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void TheSocketIsOnlyTheOwners()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "Unix file modes");
        if (OperatingSystem.IsLinux()) Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Socket));
    }

    [Fact]
    public void AMachineIsConfiguredStartedPausedAndResumedThroughTheApi()
    {
        var info = _api.Get("/");
        Assert.Equal("test-vm", info.GetProperty("id").GetString());
        Assert.Equal("Not started", info.GetProperty("state").GetString());
        Assert.Equal("kvmsharp", info.GetProperty("app_name").GetString());
        Assert.False(string.IsNullOrEmpty(info.GetProperty("vmm_version").GetString()));

        string kernel = WriteFile("guest.bin", KeyReadingGuest);
        string disk = WriteFile("disk.raw", new byte[1 << 20]);
        string scratch = WriteFile("scratch.raw", new byte[1 << 20]);
        _api.Ok("PUT", "/machine-config", """{"vcpu_count": 1, "mem_size_mib": 64}""");
        _api.Ok("PUT", "/boot-source", $$"""{"kernel_image_path": "{{kernel}}", "boot_args": "console=ttyS0"}""");
        _api.Ok("PUT", "/drives/rootfs", $$"""{"drive_id": "rootfs", "path_on_host": "{{disk}}", "is_root_device": true, "is_read_only": false}""");
        _api.Ok("PUT", "/drives/scratch", $$"""{"drive_id": "scratch", "path_on_host": "{{scratch}}", "is_root_device": false, "is_read_only": true}""");
        _api.Ok("PUT", "/entropy", "{}");
        _api.Ok("PUT", "/balloon", """{"amount_mib": 8, "deflate_on_oom": true, "stats_polling_interval_s": 1}""");

        var vmConfig = _api.Get("/vm/config");
        Assert.Equal(64, vmConfig.GetProperty("machine-config").GetProperty("mem_size_mib").GetInt32());
        var drives = vmConfig.GetProperty("drives").EnumerateArray().ToArray();
        Assert.Equal(["rootfs", "scratch"], drives.Select(d => d.GetProperty("drive_id").GetString()));
        Assert.True(drives[0].GetProperty("is_root_device").GetBoolean());
        Assert.True(drives[1].GetProperty("is_read_only").GetBoolean());
        Assert.Equal(8, vmConfig.GetProperty("balloon").GetProperty("amount_mib").GetInt32());
        Assert.Equal(kernel, vmConfig.GetProperty("boot-source").GetProperty("kernel_image_path").GetString());

        _api.Ok("PUT", "/actions", """{"action_type": "InstanceStart"}""");
        Assert.Equal("Running", _api.Get("/").GetProperty("state").GetString());
        // The root drive is the kernel's root, as Firecracker makes it.
        Assert.StartsWith("root=/dev/vda rw", _machine.Config.Kernel!.CommandLine);
        _api.Refused("PUT", "/machine-config", """{"vcpu_count": 2, "mem_size_mib": 64}""", "running");
        _api.Refused("PUT", "/actions", """{"action_type": "InstanceStart"}""", "already started");

        _api.Ok("PATCH", "/vm", """{"state": "Paused"}""");
        Assert.Equal("Paused", _api.Get("/").GetProperty("state").GetString());
        _api.Refused("PUT", "/actions", """{"action_type": "SendCtrlAltDel"}""", "paused");
        _api.Ok("PATCH", "/vm", """{"state": "Resumed"}""");
        Assert.Equal("Running", _api.Get("/").GetProperty("state").GetString());
        _api.Ok("PATCH", "/balloon", """{"amount_mib": 16}""");
        Assert.Equal(16, _api.Get("/balloon").GetProperty("amount_mib").GetInt32());
        var stats = _api.Get("/balloon/statistics");
        Assert.Equal(16 * 256, stats.GetProperty("target_pages").GetInt32());

        // The guest reads the key and ends the machine through the debug-exit port.
        _api.Ok("PUT", "/actions", """{"action_type": "SendCtrlAltDel"}""");
        Assert.True(_machine.Exit.Wait(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken), "the guest did not read the key");
        Assert.Equal((0x1D << 1) | 1, _machine.Exit.Result.ExitStatus);
    }

    [Theory]
    [InlineData("PUT", "/machine-config", "{\"vcpu_count\": 1,", "not valid")]
    [InlineData("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"colour\": 3}", "colour")]
    [InlineData("PUT", "/machine-config", "{\"vcpu_count\": 1}", "mem_size_mib")]
    [InlineData("PUT", "/machine-config", "{\"vcpu_count\": \"one\", \"mem_size_mib\": 64}", "vcpu_count")]
    [InlineData("PUT", "/machine-config", "{\"vcpu_count\": 0, \"mem_size_mib\": 64}", "vcpu")]
    [InlineData("PUT", "/machine-config", "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"smt\": true}", "smt")]
    [InlineData("PUT", "/machine-config", "[]", "not valid")]
    [InlineData("PUT", "/machine-config", "null", "null")]
    [InlineData("PUT", "/machine-config", null, "needs a JSON body")]
    [InlineData("PUT", "/boot-source", "{\"kernel_image_path\": \"/nonexistent/vmlinux\"}", "does not exist")]
    [InlineData("PUT", "/drives/a", "{\"drive_id\": \"b\", \"path_on_host\": \"/dev/null\", \"is_root_device\": false}", "differs")]
    [InlineData("PUT", "/drives/a", "{\"drive_id\": \"a\", \"path_on_host\": \"/dev/null\", \"is_root_device\": false, \"rate_limiter\": {\"ops\": {\"size\": -1, \"refill_time\": 1}}}", "rate_limiter.ops.size")]
    [InlineData("PUT", "/network-interfaces/eth0", "{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap0\", \"guest_mac\": \"not-a-mac\"}", "mac")]
    [InlineData("PUT", "/vsock", "{\"guest_cid\": 2, \"uds_path\": \"/tmp/v.sock\"}", "guest_cid")]
    [InlineData("PUT", "/actions", "{\"action_type\": \"InstanceStart\"}", "boot source")]
    [InlineData("PUT", "/actions", "{\"action_type\": \"Explode\"}", "Explode")]
    [InlineData("PATCH", "/vm", "{\"state\": \"Paused\"}", "not started")]
    [InlineData("PATCH", "/vm", "{\"state\": \"Sleeping\"}", "Sleeping")]
    [InlineData("GET", "/balloon", null, "no balloon")]
    [InlineData("GET", "/balloon/statistics", null, "statistics are off")]
    [InlineData("GET", "/no/such/path", null, "Invalid request method and/or path")]
    [InlineData("DELETE", "/machine-config", null, "Invalid request method and/or path")]
    public void BadRequestsAreRefusedWithAFaultAndTheApiGoesOn(string method, string path, string? body, string expected)
    {
        _api.Refused(method, path, body, expected);
        Assert.Equal("Not started", _api.Get("/").GetProperty("state").GetString());
    }

    [Fact]
    public void AnOversizedBodyIsRefused()
    {
        string huge = "{\"vcpu_count\": 1, \"mem_size_mib\": 64, \"cpu_template\": \"" + new string('x', 100_000) + "\"}";
        _api.Refused("PUT", "/machine-config", huge, "limit");
        Assert.Equal("Not started", _api.Get("/").GetProperty("state").GetString());
    }

    public void Dispose()
    {
        _api.Dispose();
        _server.Dispose();
        _machine.Dispose();
        _console.Dispose();
        Directory.Delete(_dir, recursive: true);
    }
}
