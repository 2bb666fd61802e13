using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.DomainXml;

/// <summary>libvirt's domain type: <c>kvm</c> runs on KVM where it can; <c>qemu</c> is libvirt's name for TCG, our software CPU.</summary>
public enum DomainType
{
    Kvm,
    Qemu,
}

/// <summary>What an &lt;on_poweroff&gt;, &lt;on_reboot&gt; or &lt;on_crash&gt; asks for (formatdomain "Events configuration").</summary>
public enum LifecycleAction
{
    Destroy,
    Restart,
    Preserve,
}

/// <summary>
/// One libvirt domain as the manager keeps it: the subset of libvirt's domain XML (formatdomain) that KvmSharp can
/// honour, with value equality (<see cref="ValueList{T}"/> for lists). <see cref="DomainXmlReader.Parse"/> gives the
/// normalized form (UUID, MACs and PCI slots filled in, disks in target order); <see cref="DomainXmlWriter.Format"/>
/// writes it back, and <see cref="ToMachineConfig"/> is the machine the daemon runs.
/// </summary>
public sealed partial record DomainDefinition
{
    public required string Name { get; init; }
    public Guid Uuid { get; init; }
    /// <summary>A one-line title (no newlines, as libvirt requires).</summary>
    public string? Title { get; init; }
    public string? Description { get; init; }
    public DomainType Type { get; init; } = DomainType.Kvm;
    /// <summary>&lt;memory&gt;: the guest's RAM, in KiB (a multiple of 4 once normalized).</summary>
    public ulong MemoryKib { get; init; }
    /// <summary>&lt;currentMemory&gt;: RAM left to the guest once the balloon has taken its share, in KiB.</summary>
    public ulong CurrentMemoryKib { get; init; }
    public int VcpuCount { get; init; } = 1;
    public required DomainOs Os { get; init; }
    public DomainFeatures Features { get; init; } = DomainFeatures.None;
    /// <summary>&lt;cpu mode='host-passthrough'|'host-model'&gt;, kept as written; null when absent.</summary>
    public DomainCpu? Cpu { get; init; }
    /// <summary>&lt;pm&gt; said suspend to memory and to disk are off (the only way we run).</summary>
    public bool SuspendDisabled { get; init; }
    public LifecycleAction OnPoweroff { get; init; } = LifecycleAction.Destroy;
    public LifecycleAction OnReboot { get; init; } = LifecycleAction.Restart;
    public LifecycleAction OnCrash { get; init; } = LifecycleAction.Destroy;
    /// <summary>virtio disks, in target order (vda, vdb, …, vdz, vdaa) once normalized, as libvirt keeps them.</summary>
    public ValueList<DomainDisk> Disks { get; init; } = [];
    public ValueList<DomainInterface> Interfaces { get; init; } = [];
    /// <summary>A pty &lt;serial&gt;/&lt;console&gt; (COM1); where it goes is the daemon's choice.</summary>
    public bool HasSerialConsole { get; init; }
    public DomainRng? Rng { get; init; }
    /// <summary>A virtio memballoon; null for &lt;memballoon model='none'/&gt; or none given.</summary>
    public DomainBalloon? Balloon { get; init; }
    public DomainVsock? Vsock { get; init; }
    /// <summary>Host folders shared with virtio-fs (&lt;filesystem type='mount'&gt; with &lt;driver type='virtiofs'/&gt;).</summary>
    public ValueList<DomainFilesystem> Filesystems { get; init; } = [];
}

/// <summary>
/// What boots: a kernel loaded directly (<paramref name="Kernel"/>), or firmware booting the first disk
/// (<see cref="BootsDisk"/>) or the disks in their &lt;boot order&gt; (<see cref="DomainBootXml"/>): SeaBIOS or the BIOS image <see cref="Loader"/> names, or with <see cref="Uefi"/> OVMF (or the pflash
/// code image <see cref="Loader"/> names) with its variables in <see cref="Nvram"/>. <paramref name="Machine"/> as
/// written (pc, q35, pc-i440fx-…).
/// </summary>
public sealed record DomainOs(string? Kernel, string? Initrd = null, string? Cmdline = null, string Machine = "pc")
{
    /// <summary>&lt;boot dev='hd'/&gt;: firmware boots the first disk (also when there is no kernel and no disk has a &lt;boot order&gt;).</summary>
    public bool BootsDisk { get; init; }
    /// <summary>&lt;loader&gt;: the BIOS image, or UEFI's code (type='pflash'); null: Debian's SeaBIOS or OVMF.</summary>
    public string? Loader { get; init; }
    /// <summary>UEFI firmware: &lt;os firmware='efi'&gt; or &lt;loader type='pflash'&gt;.</summary>
    public bool Uefi { get; init; }
    /// <summary>&lt;nvram&gt;: this domain's UEFI variable store (the daemon fills in its own path when it is left out).</summary>
    public string? Nvram { get; init; }
    /// <summary>&lt;nvram template=…&gt;: the store a new one is copied from; null: Debian's OVMF_VARS_4M.fd.</summary>
    public string? NvramTemplate { get; init; }
}

/// <summary>The &lt;features&gt; we accept, each a statement of what our machine has anyway.</summary>
public sealed record DomainFeatures(bool Acpi = false, bool Apic = false, bool Pae = false, bool VmportOff = false)
{
    public static DomainFeatures None { get; } = new();
}

/// <summary>&lt;cpu&gt; with a host mode; <paramref name="Check"/> and <paramref name="Migratable"/> kept when given (libvirt writes them).</summary>
public sealed record DomainCpu(string Mode, string? Check = null, bool? Migratable = null);

/// <summary>A virtio-blk disk: <paramref name="Target"/> vda, vdb, …; <paramref name="Format"/> always stated, never probed from the image.</summary>
public sealed record DomainDisk(string Target, string Source, DiskFormat Format, bool ReadOnly = false, string? Serial = null)
{
    /// <summary>The PCI slot on bus 0 (&lt;address type='pci' slot=…&gt;); null until normalized.</summary>
    public int? Slot { get; init; }

    /// <summary>&lt;iotune&gt;: the disk's rate limits, or null for none.</summary>
    public DomainIoTune? IoTune { get; init; }

    /// <summary>A pool's volume (&lt;disk type='volume'&gt;), whose <see cref="Source"/> is a placeholder until the start resolves it.</summary>
    public DiskVolume? Volume { get; init; }

    /// <summary>&lt;boot order='N'/&gt;: the disk's place in the firmware's boot order, 1 first; null: not a boot device of its own.</summary>
    public int? BootOrder { get; init; }
}

/// <summary>
/// A virtio-net NIC on an existing tap (&lt;interface type='ethernet'&gt;&lt;target dev=…/&gt;), on a virtual network
/// (&lt;interface type='network'&gt;, <see cref="Network"/> set, <paramref name="Tap"/> empty: the daemon makes its tap at start),
/// or on user networking through passt (&lt;interface type='user'&gt;, <see cref="Backend"/> user, <see cref="Tap"/> empty).
/// </summary>
public sealed record DomainInterface(string Tap, string? Mac = null)
{
    public int? Slot { get; init; }
    /// <summary>&lt;source network=…/&gt;: the virtual network this NIC is plugged into; null for type='ethernet' or 'user'.</summary>
    public string? Network { get; init; }

    /// <summary>&lt;bandwidth&gt;&lt;inbound&gt;: traffic into the guest (the NIC's receive limiter); null for none.</summary>
    public DomainBandwidthLimit? Inbound { get; init; }

    /// <summary>&lt;bandwidth&gt;&lt;outbound&gt;: traffic from the guest (the NIC's transmit limiter).</summary>
    public DomainBandwidthLimit? Outbound { get; init; }

    public NetBackendKind Backend { get; init; }

    /// <summary>&lt;portForward&gt;s of a user interface, one port each; null: none.</summary>
    public ValueList<PortForward>? PortForwards { get; init; }
}

/// <summary>virtio-rng fed by the host's random source.</summary>
public sealed record DomainRng
{
    public int? Slot { get; init; }
}

/// <summary>virtio memballoon: <paramref name="AutoDeflate"/> is autodeflate='on'; <paramref name="StatsPeriodS"/> is &lt;stats period=…/&gt; (0: off).</summary>
public sealed record DomainBalloon(bool AutoDeflate = false, uint StatsPeriodS = 0)
{
    public int? Slot { get; init; }
}

/// <summary>virtio-vsock with a fixed guest CID (&lt;cid auto='no' address=…/&gt;).</summary>
public sealed record DomainVsock(uint Cid)
{
    public int? Slot { get; init; }
}

/// <summary>
/// A virtio-fs share: &lt;source dir=…/&gt; is the host folder, &lt;target dir=…/&gt; the tag the guest mounts.
/// Served inside kvmsharp (no virtiofsd), so unlike libvirt with QEMU no shared memory backing is needed.
/// </summary>
public sealed record DomainFilesystem(string Source, string Target, bool ReadOnly = false)
{
    public int? Slot { get; init; }
}
