using KvmSharp.Api;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Guests;
using KvmSharp.Tests.Machine;

namespace KvmSharp.Tests.Api;

/// <summary>Firecracker's rate_limiter on PUT and PATCH /drives and /network-interfaces, before the boot and on a running disk.</summary>
public sealed class RateLimitApiTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-ratelimit-api").FullName;
    private readonly CapturingConsole _console = new();
    private readonly MachineController _machine;
    private readonly VmApiServer _server;
    private readonly ApiClient _api;

    public RateLimitApiTests()
    {
        var config = new MachineConfig { Accelerator = AcceleratorChoice.Emulate };
        _machine = new MachineController(config, new MachineControllerOptions { Console = _console });
        _server = VmApiServer.Start(Path.Combine(_dir, "api.sock"), new VmApi(_machine, "rl-vm", bootSourceGiven: false));
        _api = new ApiClient(Path.Combine(_dir, "api.sock"));
    }

    public void Dispose()
    {
        _api.Dispose();
        _server.Dispose();
        _machine.Dispose();
        _console.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Disk()
    {
        string path = Path.Combine(_dir, "disk.raw");
        File.WriteAllBytes(path, new byte[1 << 20]);
        return path;
    }

    [Fact]
    public void PutSetsTheLimiterAndPatchChangesItBeforeAndAfterTheBoot()
    {
        string disk = Disk();
        _api.Ok("PUT", "/drives/data", $$"""
            {"drive_id": "data", "path_on_host": "{{disk}}", "is_root_device": false,
             "rate_limiter": {"bandwidth": {"size": 1048576, "one_time_burst": 4096, "refill_time": 1000}, "ops": {"size": 100, "refill_time": 1000} } }
            """);
        var drive = _api.Get("/vm/config").GetProperty("drives")[0].GetProperty("rate_limiter");
        Assert.Equal(1048576, drive.GetProperty("bandwidth").GetProperty("size").GetInt64());
        Assert.Equal(4096, drive.GetProperty("bandwidth").GetProperty("one_time_burst").GetInt64());
        Assert.Equal(100, drive.GetProperty("ops").GetProperty("size").GetInt64());

        // Before the boot: a bucket given replaces, size 0 removes, one left out stays.
        _api.Ok("PATCH", "/drives/data", """{"drive_id": "data", "rate_limiter": {"ops": {"size": 0, "refill_time": 0}}}""");
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(1048576, 1000, 4096)), _machine.Config.Disks[0].RateLimiter);

        string kernel = Path.Combine(_dir, "guest.bin");
        File.WriteAllBytes(kernel, MultibootFlatImage.Build(TinyGuests.EmitHaltForever));
        _api.Ok("PUT", "/boot-source", $$"""{"kernel_image_path": "{{kernel}}"}""");
        _api.Ok("PUT", "/actions", """{"action_type": "InstanceStart"}""");
        var device = (VirtioBlockDevice)_machine.Current!.VirtioDeviceInSlot(_machine.Config.Disks[0].Slot!.Value)!;
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(1048576, 1000, 4096)), device.RateLimiter.Config);

        // On the running disk, as Firecracker's PATCH /drives does.
        _api.Ok("PATCH", "/drives/data", """{"drive_id": "data", "rate_limiter": {"ops": {"size": 7, "refill_time": 70}}}""");
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(1048576, 1000, 4096), new TokenBucketConfig(7, 70)), device.RateLimiter.Config);
        _api.Ok("PATCH", "/drives/data", """{"drive_id": "data", "rate_limiter": {"bandwidth": {"size": 0, "refill_time": 100}}}""");
        Assert.Equal(new RateLimiterConfig(null, new TokenBucketConfig(7, 70)), device.RateLimiter.Config);
        _api.Refused("PATCH", "/drives/data", """{"drive_id": "data", "rate_limiter": {"ops": {"size": -7, "refill_time": 70}}}""", "rate_limiter.ops.size");
        _api.Refused("PATCH", "/drives/data", """{"drive_id": "data", "path_on_host": "/elsewhere"}""", "path_on_host");
        _api.Refused("PATCH", "/drives/nope", """{"drive_id": "nope"}""", "no drive");
        Assert.Equal(new RateLimiterConfig(null, new TokenBucketConfig(7, 70)), device.RateLimiter.Config);
    }

    [Fact]
    public void NicLimitersArePutAndPatchedPerDirection()
    {
        _api.Ok("PUT", "/network-interfaces/eth0", """
            {"iface_id": "eth0", "host_dev_name": "tap9", "rx_rate_limiter": {"bandwidth": {"size": 5000, "refill_time": 100}}}
            """);
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(5000, 100)), _machine.Config.Nets[0].RxRateLimiter);
        Assert.Null(_machine.Config.Nets[0].TxRateLimiter);
        _api.Ok("PATCH", "/network-interfaces/eth0", """{"iface_id": "eth0", "tx_rate_limiter": {"ops": {"size": 10, "refill_time": 1000}}}""");
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(5000, 100)), _machine.Config.Nets[0].RxRateLimiter);
        Assert.Equal(new RateLimiterConfig(Ops: new TokenBucketConfig(10, 1000)), _machine.Config.Nets[0].TxRateLimiter);
        var nic = _api.Get("/vm/config").GetProperty("network-interfaces")[0];
        Assert.Equal(10, nic.GetProperty("tx_rate_limiter").GetProperty("ops").GetProperty("size").GetInt64());
    }

    [Theory]
    [InlineData("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\", \"rx_rate_limiter\": {\"bandwidth\": {\"size\": 5}}}", "refill_time")]
    [InlineData("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\", \"tx_rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": -1}}}", "tx_rate_limiter.ops.refill_time")]
    [InlineData("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\", \"tx_rate_limiter\": {\"ops\": {\"size\": 5, \"refill_time\": 1, \"one_time_burst\": -3}}}", "one_time_burst")]
    [InlineData("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\", \"tx_rate_limiter\": {\"ops\": {\"size\": 9223372036854775807, \"refill_time\": 1}}}", "tx_rate_limiter.ops.size")]
    [InlineData("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\", \"tx_rate_limiter\": {\"opz\": {\"size\": 5, \"refill_time\": 1}}}", "opz")]
    [InlineData("{\"iface_id\": \"eth0\", \"host_dev_name\": \"tap9\", \"rx_rate_limiter\": {\"bandwidth\": {\"size\": \"big\", \"refill_time\": 1}}}", "size")]
    public void BadLimitersAreRefusedNamingTheField(string body, string expected)
    {
        _api.Refused("PUT", "/network-interfaces/eth0", body, expected);
        Assert.Empty(_machine.Config.Nets);
    }
}
