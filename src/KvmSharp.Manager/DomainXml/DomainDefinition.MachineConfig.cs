using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.DomainXml;

public sealed partial record DomainDefinition
{
    /// <summary>
    /// The machine the daemon runs for this domain, normalized. COM1 goes to a Unix socket at
    /// <paramref name="consoleSocketPath"/> when the domain has a serial console (the daemon relays it to virsh
    /// console), nowhere otherwise; the vsock device's host socket is <paramref name="vsockUdsPath"/>, required when
    /// the domain has one. The balloon starts inflated by memory − currentMemory. Disks keep their target dev as id.
    /// </summary>
    public MachineConfig ToMachineConfig(string consoleSocketPath, string? vsockUdsPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(consoleSocketPath);
        if (Vsock is not null && string.IsNullOrEmpty(vsockUdsPath))
            throw new ArgumentException($"domain {Name} has a vsock device: give the path of its host socket", nameof(vsockUdsPath));
        return BuildMachineConfig(consoleSocketPath, vsockUdsPath ?? "").Normalize();
    }

    /// <summary>The machine as it stands, not normalized (the normalizer validates this form).</summary>
    internal MachineConfig BuildMachineConfig(string consoleSocketPath, string vsockUdsPath) => new()
    {
        // Saturating: an out-of-range size stays out of range for Validate to name instead of wrapping.
        MemorySize = MemoryKib > ulong.MaxValue / 1024 ? ulong.MaxValue : MemoryKib * 1024,
        VcpuCount = VcpuCount,
        Uuid = Uuid,
        // A kernel is loaded directly even where <boot> is given too (firmware would load it the same way).
        Kernel = Os.Kernel is null ? null : new KernelConfig(Os.Kernel, Os.Initrd, Os.Cmdline ?? ""),
        // libvirt runs QEMU with -boot strict=on whatever the XML says: only the devices given an order boot.
        Firmware = Os.Kernel is not null ? null
            : Os.Uefi ? new FirmwareConfig(FirmwareKind.Uefi, Os.Loader, Os.Nvram, Os.NvramTemplate) { StrictBoot = true }
            : new FirmwareConfig(FirmwareKind.Bios, Os.Loader) { StrictBoot = true },
        Accelerator = Type == DomainType.Qemu ? AcceleratorChoice.Emulate : AcceleratorChoice.Auto,
        Console = HasSerialConsole ? new ConsoleConfig(ConsoleKind.Socket, consoleSocketPath) : new ConsoleConfig(ConsoleKind.None),
        Disks = [.. Disks.Select((d, i) => new DiskConfig(d.Source, d.Format, d.ReadOnly, d.Serial)
        {
            Id = d.Target, Slot = d.Slot, RateLimiter = d.IoTune?.ToRateLimiter(), BootIndex = BootIndexOf(d, i),
        })],
        Nets = [.. Interfaces.Select(i => new NetConfig(i.Tap, i.Mac)
        {
            Slot = i.Slot,
            Backend = i.Backend,
            HostForwards = i.PortForwards,
            RxRateLimiter = i.Inbound?.ToRateLimiter(),
            TxRateLimiter = i.Outbound?.ToRateLimiter(),
        })],
        Rng = Rng is null ? null : new RngConfig { Slot = Rng.Slot },
        Balloon = Balloon is null ? null : new BalloonConfig
        {
            Slot = Balloon.Slot,
            AmountMib = BalloonMib,
            DeflateOnOom = Balloon.AutoDeflate,
            StatsPollingIntervalS = Balloon.StatsPeriodS,
        },
        Vsock = Vsock is null ? null : new VsockConfig(Vsock.Cid, vsockUdsPath) { Slot = Vsock.Slot },
        Filesystems = [.. Filesystems.Select(f => new FsConfig(f.Target, f.Source, f.ReadOnly) { Slot = f.Slot })],
    };

    /// <summary>
    /// A disk's boot index as libvirt's qemu driver gives it: its own &lt;boot order&gt;, or with &lt;boot dev='hd'/&gt;
    /// (the only &lt;os&gt; boot device we take, so always the first) index 1 on the first disk. None without firmware.
    /// </summary>
    private int? BootIndexOf(DomainDisk disk, int index) =>
        Os.Kernel is not null ? null
        : disk.BootOrder ?? (Os.BootsDisk && index == 0 ? 1 : null);

    /// <summary>memory − currentMemory in whole MiB (the balloon's unit): what the balloon holds at boot.</summary>
    private uint BalloonMib => CurrentMemoryKib >= MemoryKib ? 0 : (uint)Math.Min((MemoryKib - CurrentMemoryKib) / 1024, uint.MaxValue);
}
