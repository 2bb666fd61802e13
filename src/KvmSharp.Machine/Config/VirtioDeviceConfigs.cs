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

    /// <summary>
    /// Where the firmware tries this disk among the machine's boot devices: 1 first (QEMU's bootindex, libvirt's
    /// &lt;boot order&gt;); null: after every numbered device, unless <see cref="FirmwareConfig.StrictBoot"/>.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? BootIndex { get; init; }
}

/// <summary>
/// A virtio-net NIC on a host tap device (<see cref="Backend"/> tap) or on user networking (user: a passt process
/// of the VMM's own, no privileges needed). <paramref name="Tap"/>: the tap's name, empty for user networking.
/// <paramref name="Mac"/>: as 52:54:00:12:34:56; null: a stable locally administered address made from the tap's
/// name, or from the NIC's place among the user NICs (filled in by <see cref="MachineConfig.Normalize"/>).
/// </summary>
public sealed record NetConfig(string Tap = "", string? Mac = null) : IPciDeviceConfig
{
    [JsonPropertyOrder(-2)] public string? Id { get; init; }
    [JsonPropertyOrder(-1)] public int? Slot { get; init; }

    /// <summary>Firecracker's rx_rate_limiter: frames from the host to the guest (ops = frames, bandwidth = bytes); null: unlimited.</summary>
    public RateLimiterConfig? RxRateLimiter { get; init; }

    /// <summary>Firecracker's tx_rate_limiter: frames from the guest to the host.</summary>
    public RateLimiterConfig? TxRateLimiter { get; init; }

    /// <summary>Where the NIC's frames go; tap (the default) is left out of the JSON, as before there was a choice.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public NetBackendKind Backend { get; init; }

    /// <summary>User networking only: host ports passed to the guest (QEMU's hostfwd). Null: none.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public ValueList<PortForward>? HostForwards { get; init; }

    /// <summary>
    /// A boot index as a disk's; always refused by validation (<see cref="BootOrderRules"/>): a NIC cannot boot here.
    /// Kept as a field so that a config asking for it is told why instead of reading "unknown field".
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? BootIndex { get; init; }
}

/// <summary>What carries a NIC's frames on the host.</summary>
public enum NetBackendKind
{
    /// <summary>A host tap device (needs CAP_NET_ADMIN to make one, or a tap made for us).</summary>
    Tap,
    /// <summary>User networking through passt: the guest's connections become the host's own sockets.</summary>
    User,
}

/// <summary>The transport a <see cref="PortForward"/> carries.</summary>
public enum ForwardProtocol
{
    Tcp,
    Udp,
}

/// <summary>
/// A host port whose connections (tcp) or datagrams (udp) go to <paramref name="GuestPort"/> of the guest.
/// <paramref name="HostAddress"/>: the host address to listen on, null for all of them (QEMU's hostfwd leaves it out).
/// </summary>
public sealed record PortForward(ForwardProtocol Protocol, int HostPort, int GuestPort, string? HostAddress = null)
{
    /// <summary>As QEMU's hostfwd writes it: tcp:127.0.0.1:2222-:22.</summary>
    public override string ToString() => $"{Protocol.ToString().ToLowerInvariant()}:{HostAddress}:{HostPort}-:{GuestPort}";
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

/// <summary>
/// A virtio-fs share: the host folder <paramref name="Path"/> (absolute) that the guest mounts by
/// <paramref name="Tag"/> (<c>mount -t virtiofs TAG DIR</c>); served by the VMM itself, jailed to that folder.
/// </summary>
public sealed record FsConfig(string Tag, string Path, bool ReadOnly = false) : IPciDeviceConfig
{
    [JsonPropertyOrder(-2)] public string? Id { get; init; }
    [JsonPropertyOrder(-1)] public int? Slot { get; init; }
}
