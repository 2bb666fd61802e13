using System.Text.Json.Serialization;
using KvmSharp.Devices.Virtio.RateLimiting;

namespace KvmSharp.Machine.Config;

/// <summary>The image formats a disk can be opened as.</summary>
public enum DiskFormat
{
    Raw,
    Qcow2,
}

/// <summary>
/// What every virtio device on PCI has: an id that names it for its whole life (the per-VM API's drive_id) and the
/// slot on bus 0 it sits in. Both null until <see cref="MachineConfig.Normalize"/> fills them in.
/// </summary>
internal interface IPciDeviceConfig
{
    string? Id { get; }
    int? Slot { get; }
}

/// <summary>A virtio-blk disk. <paramref name="Format"/> null: detected from the image's first bytes.</summary>
public sealed record DiskConfig(string Path, DiskFormat? Format = null, bool ReadOnly = false, string? Serial = null) : IPciDeviceConfig
{
    [JsonPropertyOrder(-2)] public string? Id { get; init; }
    [JsonPropertyOrder(-1)] public int? Slot { get; init; }

    /// <summary>Firecracker's drive rate_limiter: ops = requests, bandwidth = data bytes; null: unlimited.</summary>
    public RateLimiterConfig? RateLimiter { get; init; }
}

/// <summary>
/// A virtio-net NIC on a host tap device. <paramref name="Mac"/>: as 52:54:00:12:34:56; null: a stable locally
/// administered address made from the tap's name (filled in by <see cref="MachineConfig.Normalize"/>).
/// </summary>
public sealed record NetConfig(string Tap, string? Mac = null) : IPciDeviceConfig
{
    [JsonPropertyOrder(-2)] public string? Id { get; init; }
    [JsonPropertyOrder(-1)] public int? Slot { get; init; }

    /// <summary>Firecracker's rx_rate_limiter: frames from the host to the guest (ops = frames, bandwidth = bytes); null: unlimited.</summary>
    public RateLimiterConfig? RxRateLimiter { get; init; }

    /// <summary>Firecracker's tx_rate_limiter: frames from the guest to the host.</summary>
    public RateLimiterConfig? TxRateLimiter { get; init; }
}

/// <summary>A virtio-rng device fed by the host's getrandom(2).</summary>
public sealed record RngConfig : IPciDeviceConfig
{
    [JsonPropertyOrder(-2)] public string? Id { get; init; }
    [JsonPropertyOrder(-1)] public int? Slot { get; init; }
}

/// <summary>A virtio-balloon device: inflated guest pages go back to the host.</summary>
public sealed record BalloonConfig : IPciDeviceConfig
{
    [JsonPropertyOrder(-2)] public string? Id { get; init; }
    [JsonPropertyOrder(-1)] public int? Slot { get; init; }

    /// <summary>The balloon's target size at boot, in MiB (Firecracker's amount_mib).</summary>
    public uint AmountMib { get; init; }

    /// <summary>Lets the guest deflate the balloon when it runs out of memory (VIRTIO_BALLOON_F_DEFLATE_ON_OOM).</summary>
    public bool DeflateOnOom { get; init; }

    /// <summary>How often the host asks for statistics, in seconds; 0: statistics off (Firecracker's stats_polling_interval_s).</summary>
    public uint StatsPollingIntervalS { get; init; }
}

/// <summary>
/// virtio-vsock with Firecracker's host convention: the host connects to <paramref name="UdsPath"/> and writes
/// "CONNECT &lt;port&gt;\n"; a guest connection to port P goes to "<paramref name="UdsPath"/>_P".
/// </summary>
public sealed record VsockConfig(uint GuestCid, string UdsPath) : IPciDeviceConfig
{
    [JsonPropertyOrder(-2)] public string? Id { get; init; }
    [JsonPropertyOrder(-1)] public int? Slot { get; init; }
}

/// <summary>A virtio console (the guest's hvc0) and the host end it goes to, of the same kinds as COM1's.</summary>
public sealed record VirtioConsoleConfig(ConsoleKind Kind, string? SocketPath = null) : IPciDeviceConfig
{
    [JsonPropertyOrder(-2)] public string? Id { get; init; }
    [JsonPropertyOrder(-1)] public int? Slot { get; init; }

    /// <summary>The host end alone, as <see cref="Console.ConsoleBackends"/> opens it.</summary>
    public ConsoleConfig HostEnd() => new(Kind, SocketPath);
}
