using System.Text.Json.Serialization;

namespace KvmSharp.Api.Firecracker;

// The request and response bodies of Firecracker's API (its swagger definition, firecracker.yaml), field for
// field where we implement them. Fields Firecracker has and we do not support are accepted only in their
// "off" form; anything else is refused by name, never silently dropped.

/// <summary>GET /: what and where this VMM is.</summary>
public sealed record InstanceInfo(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("state")] string State,
    [property: JsonPropertyName("vmm_version")] string VmmVersion,
    [property: JsonPropertyName("app_name")] string AppName);

/// <summary>PUT/GET /machine-config.</summary>
public sealed record MachineConfiguration
{
    [JsonPropertyName("vcpu_count")] public required int VcpuCount { get; init; }
    [JsonPropertyName("mem_size_mib")] public required long MemSizeMib { get; init; }
    [JsonPropertyName("smt")] public bool Smt { get; init; }
    [JsonPropertyName("track_dirty_pages")] public bool TrackDirtyPages { get; init; }
    [JsonPropertyName("cpu_template")] public string? CpuTemplate { get; init; }
    [JsonPropertyName("huge_pages")] public string? HugePages { get; init; }
}

/// <summary>PUT /boot-source.</summary>
public sealed record BootSource
{
    [JsonPropertyName("kernel_image_path")] public required string KernelImagePath { get; init; }
    [JsonPropertyName("initrd_path")] public string? InitrdPath { get; init; }
    [JsonPropertyName("boot_args")] public string? BootArgs { get; init; }
}

/// <summary>PUT /drives/{drive_id}.</summary>
public sealed record Drive
{
    [JsonPropertyName("drive_id")] public required string DriveId { get; init; }
    [JsonPropertyName("path_on_host")] public string? PathOnHost { get; init; }
    [JsonPropertyName("is_root_device")] public required bool IsRootDevice { get; init; }
    [JsonPropertyName("is_read_only")] public bool? IsReadOnly { get; init; }
    [JsonPropertyName("partuuid")] public string? PartUuid { get; init; }
    [JsonPropertyName("cache_type")] public string? CacheType { get; init; }
    [JsonPropertyName("io_engine")] public string? IoEngine { get; init; }
    [JsonPropertyName("rate_limiter")] public RateLimiter? RateLimiter { get; init; }
    [JsonPropertyName("socket")] public string? Socket { get; init; }
}

/// <summary>Firecracker's RateLimiter: a bytes bucket and an operations bucket, each optional.</summary>
public sealed record RateLimiter
{
    [JsonPropertyName("bandwidth")] public TokenBucket? Bandwidth { get; init; }
    [JsonPropertyName("ops")] public TokenBucket? Ops { get; init; }
}

/// <summary>Firecracker's TokenBucket: size tokens refilled over refill_time ms, plus a one-time burst; size or refill_time 0 limits nothing.</summary>
public sealed record TokenBucket
{
    [JsonPropertyName("size")] public required long Size { get; init; }
    [JsonPropertyName("one_time_burst")] public long? OneTimeBurst { get; init; }
    [JsonPropertyName("refill_time")] public required long RefillTime { get; init; }
}

/// <summary>PATCH /drives/{drive_id} (Firecracker's PartialDrive): a new rate limiter for a drive, at run time too.</summary>
public sealed record PartialDrive
{
    [JsonPropertyName("drive_id")] public required string DriveId { get; init; }
    [JsonPropertyName("path_on_host")] public string? PathOnHost { get; init; }
    [JsonPropertyName("rate_limiter")] public RateLimiter? RateLimiter { get; init; }
}

/// <summary>PATCH /network-interfaces/{iface_id} (Firecracker's PartialNetworkInterface): new rate limiters for a NIC.</summary>
public sealed record PartialNetworkInterface
{
    [JsonPropertyName("iface_id")] public required string IfaceId { get; init; }
    [JsonPropertyName("rx_rate_limiter")] public RateLimiter? RxRateLimiter { get; init; }
    [JsonPropertyName("tx_rate_limiter")] public RateLimiter? TxRateLimiter { get; init; }
}

/// <summary>PUT /network-interfaces/{iface_id}.</summary>
public sealed record NetworkInterface
{
    [JsonPropertyName("iface_id")] public required string IfaceId { get; init; }
    [JsonPropertyName("host_dev_name")] public required string HostDevName { get; init; }
    [JsonPropertyName("guest_mac")] public string? GuestMac { get; init; }
    [JsonPropertyName("rx_rate_limiter")] public RateLimiter? RxRateLimiter { get; init; }
    [JsonPropertyName("tx_rate_limiter")] public RateLimiter? TxRateLimiter { get; init; }
}

/// <summary>PUT /vsock.</summary>
public sealed record Vsock
{
    [JsonPropertyName("guest_cid")] public required long GuestCid { get; init; }
    [JsonPropertyName("uds_path")] public required string UdsPath { get; init; }
    [JsonPropertyName("vsock_id")] public string? VsockId { get; init; }
}

/// <summary>PUT /entropy.</summary>
public sealed record EntropyDevice
{
    [JsonPropertyName("rate_limiter")] public RateLimiter? RateLimiter { get; init; }
}

/// <summary>PUT /balloon and GET /balloon.</summary>
public sealed record Balloon
{
    [JsonPropertyName("amount_mib")] public required long AmountMib { get; init; }
    [JsonPropertyName("deflate_on_oom")] public required bool DeflateOnOom { get; init; }
    [JsonPropertyName("stats_polling_interval_s")] public long StatsPollingIntervalS { get; init; }
}

/// <summary>PATCH /balloon: a new target while the machine runs.</summary>
public sealed record BalloonUpdate
{
    [JsonPropertyName("amount_mib")] public required long AmountMib { get; init; }
}

/// <summary>GET /balloon/statistics: the target and actual size, and what the guest's driver last reported.</summary>
public sealed record BalloonStats
{
    [JsonPropertyName("target_pages")] public long TargetPages { get; init; }
    [JsonPropertyName("actual_pages")] public long ActualPages { get; init; }
    [JsonPropertyName("target_mib")] public long TargetMib { get; init; }
    [JsonPropertyName("actual_mib")] public long ActualMib { get; init; }
    [JsonPropertyName("swap_in")] public ulong? SwapIn { get; init; }
    [JsonPropertyName("swap_out")] public ulong? SwapOut { get; init; }
    [JsonPropertyName("major_faults")] public ulong? MajorFaults { get; init; }
    [JsonPropertyName("minor_faults")] public ulong? MinorFaults { get; init; }
    [JsonPropertyName("free_memory")] public ulong? FreeMemory { get; init; }
    [JsonPropertyName("total_memory")] public ulong? TotalMemory { get; init; }
    [JsonPropertyName("available_memory")] public ulong? AvailableMemory { get; init; }
    [JsonPropertyName("disk_caches")] public ulong? DiskCaches { get; init; }
    [JsonPropertyName("hugetlb_allocations")] public ulong? HugetlbAllocations { get; init; }
    [JsonPropertyName("hugetlb_failures")] public ulong? HugetlbFailures { get; init; }
}

/// <summary>PUT /actions.</summary>
public sealed record InstanceActionInfo
{
    [JsonPropertyName("action_type")] public required string ActionType { get; init; }
}

/// <summary>PATCH /vm.</summary>
public sealed record VmStateUpdate
{
    [JsonPropertyName("state")] public required string State { get; init; }
}

/// <summary>PUT /snapshot/create.</summary>
public sealed record SnapshotCreateParams
{
    [JsonPropertyName("snapshot_type")] public string? SnapshotType { get; init; }
    [JsonPropertyName("snapshot_path")] public required string SnapshotPath { get; init; }
    [JsonPropertyName("mem_file_path")] public required string MemFilePath { get; init; }
    [JsonPropertyName("version")] public string? Version { get; init; }
}

/// <summary>PUT /snapshot/load: the memory either as <c>mem_backend</c> or the older <c>mem_file_path</c>.</summary>
public sealed record SnapshotLoadParams
{
    [JsonPropertyName("snapshot_path")] public required string SnapshotPath { get; init; }
    [JsonPropertyName("mem_backend")] public MemoryBackend? MemBackend { get; init; }
    [JsonPropertyName("mem_file_path")] public string? MemFilePath { get; init; }
    [JsonPropertyName("enable_diff_snapshots")] public bool EnableDiffSnapshots { get; init; }
    [JsonPropertyName("track_dirty_pages")] public bool TrackDirtyPages { get; init; }
    [JsonPropertyName("resume_vm")] public bool ResumeVm { get; init; }
}

public sealed record MemoryBackend
{
    [JsonPropertyName("backend_type")] public required string BackendType { get; init; }
    [JsonPropertyName("backend_path")] public required string BackendPath { get; init; }
}

/// <summary>GET /vm/config: the whole machine, in the request bodies that would make it.</summary>
public sealed record FullVmConfiguration
{
    [JsonPropertyName("boot-source")] public BootSource? BootSource { get; init; }
    [JsonPropertyName("drives")] public required IReadOnlyList<Drive> Drives { get; init; }
    [JsonPropertyName("machine-config")] public required MachineConfiguration MachineConfig { get; init; }
    [JsonPropertyName("network-interfaces")] public required IReadOnlyList<NetworkInterface> NetworkInterfaces { get; init; }
    [JsonPropertyName("vsock")] public Vsock? Vsock { get; init; }
    [JsonPropertyName("balloon")] public Balloon? Balloon { get; init; }
    [JsonPropertyName("entropy")] public EntropyDevice? Entropy { get; init; }
}

/// <summary>Every error: 400 (or 500) with this body.</summary>
public sealed record Fault([property: JsonPropertyName("fault_message")] string FaultMessage);

/// <summary>PUT /migrate (ours; Firecracker has no live migration).</summary>
public sealed record MigrateParams
{
    /// <summary><c>unix:PATH</c> or <c>tcp:HOST:PORT</c>, where <c>kvmsharp run --incoming</c> waits.</summary>
    [JsonPropertyName("destination_url")] public required string DestinationUrl { get; init; }

    /// <summary>The downtime budget in milliseconds (default 300).</summary>
    [JsonPropertyName("downtime_ms")] public uint? DowntimeMs { get; init; }

    /// <summary>Pre-copy rounds before the source stops anyway (default 30).</summary>
    [JsonPropertyName("max_iterations")] public uint? MaxIterations { get; init; }
}

/// <summary>GET /migrate: the last migration's progress.</summary>
public sealed record MigrationInfo
{
    /// <summary>"none", "active", "completed" or "failed".</summary>
    [JsonPropertyName("state")] public required string State { get; init; }
    [JsonPropertyName("bytes_sent")] public long BytesSent { get; init; }
    [JsonPropertyName("iterations")] public int Iterations { get; init; }
    [JsonPropertyName("dirty_rate_pages_per_s")] public double DirtyRatePagesPerS { get; init; }
    [JsonPropertyName("expected_downtime_ms")] public double ExpectedDowntimeMs { get; init; }
    [JsonPropertyName("total_time_ms")] public double? TotalTimeMs { get; init; }
    [JsonPropertyName("downtime_ms")] public double? DowntimeMs { get; init; }
    [JsonPropertyName("error")] public string? Error { get; init; }
}

/// <summary>The answer to PUT and DELETE /disk-snapshots/{name} (ours): the qcow2 images the snapshot was taken in or deleted from.</summary>
public sealed record DiskSnapshotResult
{
    [JsonPropertyName("images")] public required IReadOnlyList<string> Images { get; init; }
}
