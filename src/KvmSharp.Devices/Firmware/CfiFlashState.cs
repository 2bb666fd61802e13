namespace KvmSharp.Devices.Firmware;

/// <summary>A <see cref="CfiFlash"/>'s saved state: its contents (OVMF's variables travel with a snapshot or a migration, as on QEMU) and its command state.</summary>
public sealed record CfiFlashState
{
    public CfiFlashMode Mode { get; init; }
    public byte Status { get; init; }
    public byte[] Contents { get; init; } = [];
}
