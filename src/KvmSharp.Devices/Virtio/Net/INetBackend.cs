using System.Runtime.InteropServices;

namespace KvmSharp.Devices.Virtio.Net;

/// <summary>
/// The host end of a NIC: frames go in and out whole, each behind the 12-byte virtio_net_hdr_v1 (virtio 1.2
/// §5.1.6), as a tap with IFF_VNET_HDR carries them (a passt backend adds and strips it). Non-blocking; used from the device's loop thread only.
/// </summary>
public interface INetBackend : IDisposable
{
    /// <summary>Polled for POLLIN: a frame is waiting.</summary>
    SafeHandle Handle { get; }

    /// <summary>The backend can hand us frames with partial checksums and TSO (the offloads of <see cref="NetFeatures.Offloads"/>).</summary>
    bool SupportsOffloads { get; }

    /// <summary>Reads one frame (header included) into <paramref name="buffer"/>: its length, 0 when none is waiting, or -errno.</summary>
    int Receive(Span<byte> buffer);

    /// <summary>Sends one frame (header included): 0, or -errno when it was dropped.</summary>
    int Send(ReadOnlySpan<byte> frame);

    /// <summary>Which offloads (TUN_F_* bits) frames handed to us may use.</summary>
    void SetOffloads(uint tunFlags);

    /// <summary>The device's one notice about a failed host side, in the backend's words (passt says whether it exited); <paramref name="why"/> is the error seen.</summary>
    string DescribeFailure(string why) => why;
}
