namespace KvmSharp.Machine.Config;

/// <summary>Which firmware starts the machine from the reset vector.</summary>
public enum FirmwareKind
{
    /// <summary>SeaBIOS: a PC BIOS that boots disks through their MBR (and GRUB).</summary>
    Bios,
    /// <summary>OVMF: UEFI, booting a GPT disk's EFI system partition.</summary>
    Uefi,
}

/// <summary>
/// Boot through firmware instead of loading a kernel directly. <see cref="ImagePath"/> null: the firmware of the Debian
/// package that provides it (used in place, never copied). With firmware, a <see cref="MachineConfig.Kernel"/> is
/// handed to the firmware through fw_cfg, as QEMU's <c>-kernel</c>; without one the firmware boots the disks.
/// </summary>
public sealed record FirmwareConfig(FirmwareKind Kind, string? ImagePath = null)
{
    /// <summary>Debian's <c>seabios</c> package: the 256 KiB build QEMU uses for its PC machines.</summary>
    public const string DebianSeaBios = "/usr/share/seabios/bios-256k.bin";

    /// <summary>The image file this config boots.</summary>
    public string Image => ImagePath ?? Kind switch
    {
        FirmwareKind.Bios => DebianSeaBios,
        _ => "/usr/share/OVMF/OVMF_CODE_4M.fd",
    };

    /// <summary>The Debian package that has <see cref="Image"/> when it is the default.</summary>
    public string Package => Kind == FirmwareKind.Bios ? "seabios" : "ovmf";
}
