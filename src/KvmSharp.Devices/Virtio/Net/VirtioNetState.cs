namespace KvmSharp.Devices.Virtio.Net;

/// <summary>
/// virtio-net's own saved state: the MAC address the guest knows the NIC by and the features the device offered.
/// Frames are not state: what was in flight when the machine paused (a frame read from the tap and not yet
/// delivered, frames the tap still holds) is dropped or left to the host, as a NIC unplugged for a moment would
/// drop it; TCP resends. The receive buffers the device held go back to the driver ring at the pause.
/// </summary>
public sealed record VirtioNetState
{
    /// <summary>The MAC as six lowercase hex pairs with colons, as in the machine's configuration.</summary>
    public string Mac { get; init; } = "";

    /// <summary>The device features offered: the offload bits depend on the tap, so a tap without them cannot take this state.</summary>
    public ulong DeviceFeatures { get; init; }

    /// <summary>The receive limiter's buckets and budgets (absent in older states: kept as configured).</summary>
    public RateLimiting.RateLimiterState? RxRateLimiter { get; init; }

    /// <summary>The transmit limiter's buckets and budgets.</summary>
    public RateLimiting.RateLimiterState? TxRateLimiter { get; init; }
}
