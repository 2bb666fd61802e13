using KvmSharp.Api.Firecracker;
using KvmSharp.Api.Http;
using KvmSharp.Machine.Config;

namespace KvmSharp.Api;

// Pre-boot configuration: Firecracker's PUT /machine-config, /boot-source, /drives, /network-interfaces,
// /vsock, /entropy and /balloon, each a change to the MachineConfig that InstanceStart boots.
public sealed partial class VmApi
{
    private bool _bootSourceGiven;
    private string? _rootDriveId;

    private Task GetMachineConfig(HttpExchange context) => Write(context, ToMachineConfiguration(_machine.Config), Json.MachineConfiguration);

    private static MachineConfiguration ToMachineConfiguration(MachineConfig config) => new()
    {
        VcpuCount = config.VcpuCount,
        MemSizeMib = (long)(config.MemorySize >> 20),
    };

    private async Task PutMachineConfig(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.MachineConfiguration);
        if (request.Smt) throw new ApiFault("smt: simultaneous multithreading is not supported; leave it false");
        if (request.CpuTemplate is not (null or "None")) throw new ApiFault($"cpu_template: '{request.CpuTemplate}' is not supported; only \"None\"");
        if (request.HugePages is not (null or "None")) throw new ApiFault($"huge_pages: '{request.HugePages}' is not supported; only \"None\"");
        if (request.MemSizeMib is < 1 or > (long)(MachineConfig.MaxMemorySize >> 20))
            throw new ApiFault($"mem_size_mib: {request.MemSizeMib} is outside 1..{MachineConfig.MaxMemorySize >> 20}");
        Change(c => c with { VcpuCount = request.VcpuCount, MemorySize = (ulong)request.MemSizeMib << 20 });
        await NoContent(context);
    }

    private async Task PutBootSource(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.BootSource);
        RequireFile(request.KernelImagePath, "kernel_image_path");
        if (request.InitrdPath is { } initrd) RequireFile(initrd, "initrd_path");
        Change(c => c with { Kernel = new KernelConfig(Path.GetFullPath(request.KernelImagePath), request.InitrdPath is null ? null : Path.GetFullPath(request.InitrdPath), request.BootArgs ?? "") });
        lock (_lock) _bootSourceGiven = true;
        await NoContent(context);
    }

    private async Task PutDrive(HttpExchange context, string? id)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.Drive);
        if (request.DriveId != id) throw new ApiFault($"drive_id '{request.DriveId}' in the body differs from '{id}' in the path");
        if (request.Socket is not null) throw new ApiFault("socket: vhost-user drives are not supported");
        if (request.PartUuid is not null) throw new ApiFault("partuuid: root by partition UUID is not supported; the root device is /dev/vda");
        if (request.IoEngine is not (null or "Sync" or "Async")) throw new ApiFault($"io_engine: '{request.IoEngine}' is not one of Sync, Async");
        if (request.CacheType is not (null or "Unsafe" or "Writeback")) throw new ApiFault($"cache_type: '{request.CacheType}' is not one of Unsafe, Writeback");
        var limiter = RateLimits.ToConfig(request.RateLimiter, "rate_limiter");
        string path = request.PathOnHost ?? throw new ApiFault("path_on_host: a drive needs a host file");
        RequireFile(path, "path_on_host");
        lock (_lock)
        {
            if (request.IsRootDevice && _rootDriveId is { } root && root != id)
                throw new ApiFault($"drive '{root}' is already the root device");
            // Firecracker's drives are raw images; a format is never probed from a guest-writable file.
            Change(c => c.WithDisk(new DiskConfig(Path.GetFullPath(path), DiskFormat.Raw, request.IsReadOnly ?? false) { Id = id, RateLimiter = limiter }));
            if (request.IsRootDevice) _rootDriveId = id;
            else if (_rootDriveId == id) _rootDriveId = null;
        }
        await NoContent(context);
    }

    private async Task PutNetworkInterface(HttpExchange context, string? id)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.NetworkInterface);
        if (request.IfaceId != id) throw new ApiFault($"iface_id '{request.IfaceId}' in the body differs from '{id}' in the path");
        var rx = RateLimits.ToConfig(request.RxRateLimiter, "rx_rate_limiter");
        var tx = RateLimits.ToConfig(request.TxRateLimiter, "tx_rate_limiter");
        Change(c => c.WithNet(new NetConfig(request.HostDevName, request.GuestMac) { Id = id, RxRateLimiter = rx, TxRateLimiter = tx }));
        await NoContent(context);
    }

    private async Task PutVsock(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.Vsock);
        if (request.GuestCid is < 3 or > uint.MaxValue - 1) throw new ApiFault($"guest_cid: {request.GuestCid} is reserved or out of range; use 3 to {uint.MaxValue - 1}");
        Change(c => c.WithVsock(new VsockConfig((uint)request.GuestCid, Path.GetFullPath(request.UdsPath))));
        await NoContent(context);
    }

    private async Task PutEntropy(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.EntropyDevice);
        RefuseRateLimiter(request.RateLimiter, "rate_limiter");
        Change(c => c.WithRng(new RngConfig()));
        await NoContent(context);
    }

    private async Task PutBalloon(HttpExchange context)
    {
        var request = await RequestBody.ReadAsync(context.Request, Json.Balloon);
        uint amount = BalloonMib(request.AmountMib);
        if (request.StatsPollingIntervalS is < 0 or > int.MaxValue) throw new ApiFault($"stats_polling_interval_s: {request.StatsPollingIntervalS} is out of range");
        Change(c => c.WithBalloon(new BalloonConfig { AmountMib = amount, DeflateOnOom = request.DeflateOnOom, StatsPollingIntervalS = (uint)request.StatsPollingIntervalS }));
        await NoContent(context);
    }

    private static uint BalloonMib(long mib) =>
        mib is >= 0 and <= (long)(MachineConfig.MaxMemorySize >> 20) ? (uint)mib : throw new ApiFault($"amount_mib: {mib} is out of range");

    /// <summary>Applies a pre-boot change; refused once the machine has started, or when it makes the config invalid.</summary>
    private void Change(Func<MachineConfig, MachineConfig> change)
    {
        _machine.Configure(current =>
        {
            var next = change(current).Normalize();
            if (next.Validate() is { Count: > 0 } problems) throw new MachineConfigException(problems);
            return next;
        });
    }

    private static void RequireFile(string path, string field)
    {
        if (!File.Exists(path)) throw new ApiFault($"{field}: '{path}' does not exist or is not a file");
    }

    private static void RefuseRateLimiter(RateLimiter? limiter, string field)
    {
        if (limiter is { Bandwidth: not null } or { Ops: not null }) throw new ApiFault($"{field}: the entropy device has no rate limiter here");
    }

    private Task GetVmConfig(HttpExchange context)
    {
        var config = _machine.Config;
        string? root;
        bool bootSource;
        lock (_lock) (root, bootSource) = (_rootDriveId, _bootSourceGiven);
        var full = new FullVmConfiguration
        {
            BootSource = bootSource && config.Kernel is { } k ? new BootSource { KernelImagePath = k.Path, InitrdPath = k.InitrdPath, BootArgs = k.CommandLine } : null,
            Drives = [.. config.Disks.Select(d => new Drive { DriveId = d.Id!, PathOnHost = d.Path, IsRootDevice = d.Id == root, IsReadOnly = d.ReadOnly, RateLimiter = RateLimits.FromConfig(d.RateLimiter) })],
            MachineConfig = ToMachineConfiguration(config),
            NetworkInterfaces = [.. config.Nets.Select(n => new NetworkInterface { IfaceId = n.Id!, HostDevName = n.Tap, GuestMac = n.Mac,
                RxRateLimiter = RateLimits.FromConfig(n.RxRateLimiter), TxRateLimiter = RateLimits.FromConfig(n.TxRateLimiter) })],
            Vsock = config.Vsock is { } v ? new Vsock { GuestCid = v.GuestCid, UdsPath = v.UdsPath, VsockId = v.Id } : null,
            Balloon = config.Balloon is { } b ? new Balloon { AmountMib = b.AmountMib, DeflateOnOom = b.DeflateOnOom, StatsPollingIntervalS = b.StatsPollingIntervalS } : null,
            Entropy = config.Rng is null ? null : new EntropyDevice(),
        };
        return Write(context, full, Json.FullVmConfiguration);
    }
}
