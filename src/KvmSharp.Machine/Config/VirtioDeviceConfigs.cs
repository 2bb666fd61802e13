namespace KvmSharp.Machine.Config;

/// <summary>The image formats a disk can be opened as.</summary>
public enum DiskFormat
{
    Raw,
    Qcow2,
}

/// <summary>A virtio-blk disk. <paramref name="Format"/> null: detected from the image's first bytes.</summary>
public sealed record DiskConfig(string Path, DiskFormat? Format = null, bool ReadOnly = false, string? Serial = null);

/// <summary>A virtio-net NIC on a host tap device. <paramref name="Mac"/> null: a stable locally administered address.</summary>
public sealed record NetConfig(string Tap, byte[]? Mac = null);

/// <summary>
/// virtio-vsock with Firecracker's host convention: the host connects to <paramref name="UdsPath"/> and writes
/// "CONNECT &lt;port&gt;\n"; a guest connection to port P goes to "<paramref name="UdsPath"/>_P".
/// </summary>
public sealed record VsockConfig(uint GuestCid, string UdsPath);
