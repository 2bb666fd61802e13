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
/// <para>UEFI keeps its variables (boot entries, Secure Boot keys) in a flash of their own, separate from the
/// read-only code: <see cref="VarsPath"/> is this VM's copy, created from <see cref="VarsTemplate"/> the first time
/// (as libvirt's &lt;nvram template=…&gt;); null keeps a copy of the template in memory for this run only.</para>
/// </summary>
public sealed record FirmwareConfig(FirmwareKind Kind, string? ImagePath = null, string? VarsPath = null, string? VarsTemplatePath = null)
{
    /// <summary>Debian's <c>seabios</c> package: the 256 KiB build QEMU uses for its PC machines.</summary>
    public const string DebianSeaBios = "/usr/share/seabios/bios-256k.bin";
    /// <summary>Debian's <c>ovmf</c> package: the 4 MiB build (code 3.5 MiB, variables 528 KiB), without Secure Boot.</summary>
    public const string DebianOvmfCode = "/usr/share/OVMF/OVMF_CODE_4M.fd";
    public const string DebianOvmfVars = "/usr/share/OVMF/OVMF_VARS_4M.fd";

    /// <summary>
    /// Only devices with a boot index may boot (QEMU's <c>-boot strict=on</c>, which libvirt always gives): the firmware
    /// stops after the last of them instead of trying the others. No effect when no device has a boot index.
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool StrictBoot { get; init; }

    /// <summary>The image file this config boots.</summary>
    public string Image => ImagePath ?? (Kind == FirmwareKind.Bios ? DebianSeaBios : DebianOvmfCode);

    /// <summary>The pristine variable store a new VM's copy starts from (UEFI only).</summary>
    public string VarsTemplate => VarsTemplatePath ?? DebianOvmfVars;

    /// <summary>The Debian package that has <see cref="Image"/> when it is the default.</summary>
    public string Package => Kind == FirmwareKind.Bios ? "seabios" : "ovmf";
}
