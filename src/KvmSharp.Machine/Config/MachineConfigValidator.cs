using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Fs;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Memory;
using KvmSharp.Native.Net;

namespace KvmSharp.Machine.Config;

/// <summary>
/// The checks behind <see cref="MachineConfig.Validate"/>: values only, never the file system, so a config can be
/// checked anywhere (the API checks one before it exists on this host). Each problem names its field by JSON path.
/// </summary>
internal static class MachineConfigValidator
{
    public static IReadOnlyList<ConfigProblem> Problems(MachineConfig config)
    {
        var problems = new List<ConfigProblem>();
        void Add(string field, string message) => problems.Add(new ConfigProblem(field, message));

        if (config.FormatVersion != MachineConfigJson.CurrentFormatVersion)
            Add("format_version", $"{config.FormatVersion} is not a version this kvmsharp knows; it writes and reads {MachineConfigJson.CurrentFormatVersion}");
        if (config.MemorySize < MemoryMap.MinimumRam || config.MemorySize > MachineConfig.MaxMemorySize)
            Add("memory_size", $"must be between {MemoryMap.MinimumRam >> 20}M and {MachineConfig.MaxMemorySize >> 30}G");
        else if (config.MemorySize % MemoryMap.PageSize != 0)
            Add("memory_size", "must be a multiple of 4K");
        if (config.VcpuCount < 1 || config.VcpuCount > MachineConfig.MaxVcpuCount)
            Add("vcpu_count", $"must be between 1 and {MachineConfig.MaxVcpuCount}");
        if (!Enum.IsDefined(config.Accelerator))
            Add("accelerator", $"{(int)config.Accelerator} is not one of auto, kvm, emulate");
        if (config.InstructionCountShift is { } shift && (shift < 0 || shift > InstructionClock.MaxShift))
            Add("instruction_count_shift", $"must be between 0 and {InstructionClock.MaxShift}");
        if (config.InstructionCountShift is not null && config.Accelerator == AcceleratorChoice.Kvm)
            Add("instruction_count_shift", "needs the software CPU ({accelerator} emulate): KVM runs guests in real time");
        if (config.Translator is { } translator && !Enum.IsDefined(translator))
            Add("translator", $"{(int)translator} is not one of off, on, always, verify");
        if (config.Translator is not null && config.Accelerator == AcceleratorChoice.Kvm)
            Add("translator", "needs the software CPU ({accelerator} emulate): KVM runs guest code natively");
        if (config.Kernel is { } kernel)
        {
            if (string.IsNullOrEmpty(kernel.Path)) Add("kernel.path", "is empty: name the kernel's file");
            if (kernel.InitrdPath is "") Add("kernel.initrd_path", "is empty: name the initrd's file, or leave it out");
        }
        if (config.Firmware is { } firmware)
        {
            if (!Enum.IsDefined(firmware.Kind)) Add("firmware.kind", $"{(int)firmware.Kind} is not one of bios, uefi");
            if (firmware.ImagePath is "") Add("firmware.image_path", "is empty: name the firmware image, or leave it out for the packaged one");
            if (firmware.VarsPath is "") Add("firmware.vars_path", "is empty: name this VM's variable store, or leave it out to keep the variables in memory");
            if (firmware.VarsTemplatePath is "") Add("firmware.vars_template_path", "is empty: name the variable store to copy, or leave it out for the packaged one");
            if (firmware.Kind == FirmwareKind.Bios && (firmware.VarsPath ?? firmware.VarsTemplatePath) is not null)
                Add("firmware.vars_path", "is for uefi: a BIOS keeps no variable store");
        }
        CheckConsole(config.Console.Kind, config.Console.SocketPath, "console", Add);

        for (int i = 0; i < config.Disks.Count; i++) CheckDisk(config.Disks[i], $"disks[{i}]", Add);
        CheckNets(config.Nets, Add);
        BootOrderRules.Check(config, Add);
        // CIDs 0-2 are the hypervisor, local and host (virtio 1.2 §5.10.4); 2^32-1 is VMADDR_CID_ANY.
        if (config.Vsock is { } vsock && (vsock.GuestCid < 3 || vsock.GuestCid == uint.MaxValue))
            Add("vsock.guest_cid", $"cid {vsock.GuestCid} is reserved; use 3 to {uint.MaxValue - 1}");
        if (config.Vsock is { UdsPath: "" })
            Add("vsock.uds_path", "is empty: name the Unix socket host programs connect to");
        if (config.VirtioConsole is { } hvc)
        {
            CheckConsole(hvc.Kind, hvc.SocketPath, "virtio_console", Add);
            if (hvc.Kind == ConsoleKind.Stdio && config.Console.Kind == ConsoleKind.Stdio)
                Add("virtio_console.kind", "stdio needs COM1 elsewhere: set {console} to none, pty or a socket");
            if (hvc.Kind == ConsoleKind.Socket && config.Console.Kind == ConsoleKind.Socket && hvc.SocketPath == config.Console.SocketPath
                && !string.IsNullOrEmpty(hvc.SocketPath))
                Add("virtio_console.socket_path", $"cannot share the socket {E(hvc.SocketPath)} with {{console}}");
        }
        CheckFilesystems(config.Filesystems, Add);
        CheckIdsAndSlots(PciDeviceLayout.Entries(config), PciDeviceLayout.ChipsetSlots(config), Add);
        return problems;
    }

    private static string E(string value) => ConfigProblem.Escape(value);

    private static void CheckConsole(ConsoleKind kind, string? socketPath, string field, Action<string, string> add)
    {
        if (!Enum.IsDefined(kind))
            add($"{field}.kind", $"{(int)kind} is not one of stdio, pty, socket, none");
        else if (kind == ConsoleKind.Socket && string.IsNullOrEmpty(socketPath))
            add($"{field}.socket_path", "a socket console needs a path");
        else if (kind != ConsoleKind.Socket && socketPath is not null)
            add($"{field}.socket_path", "is only for a socket console");
    }

    private static void CheckDisk(DiskConfig disk, string field, Action<string, string> add)
    {
        if (string.IsNullOrEmpty(disk.Path)) add($"{field}.path", "is empty: name the disk's image file");
        if (disk.Format is { } format && !Enum.IsDefined(format)) add($"{field}.format", $"{(int)format} is not one of raw, qcow2");
        if (disk.Serial is { } serial && !VirtioBlockDevice.IsValidSerial(serial))
            add($"{field}.serial", $"serial '{E(serial)}' must be at most 20 printable ASCII characters");
        if (disk.RateLimiter?.Problem() is { } limit) add($"{field}.rate_limiter.{limit.Field}", limit.Message);
    }

    private static void CheckNets(ValueList<NetConfig> nets, Action<string, string> add)
    {
        var taps = new HashSet<string>(StringComparer.Ordinal);
        var macs = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < nets.Count; i++)
        {
            var net = nets[i];
            if (net.Backend == NetBackendKind.User || !Enum.IsDefined(net.Backend))
            {
                NetForwardRules.Check(net, $"nets[{i}]", add);
            }
            else if (net.HostForwards is { Count: > 0 })
                add($"nets[{i}].host_forwards", "only user networking forwards ports (backend user); a tap NIC is reached at its own address");
            else if (!TapDevice.IsValidName(net.Tap))
                add($"nets[{i}].tap", $"'{E(net.Tap)}' is not a network interface name ({TapDevice.NameRule})");
            else if (!taps.Add(net.Tap))
                add($"nets[{i}].tap", $"tap {E(net.Tap)} is given twice (one tap carries one NIC)");
            if (net.RxRateLimiter?.Problem() is { } rx) add($"nets[{i}].rx_rate_limiter.{rx.Field}", rx.Message);
            if (net.TxRateLimiter?.Problem() is { } tx) add($"nets[{i}].tx_rate_limiter.{tx.Field}", tx.Message);
            if (net.Mac is null) continue;
            if (!MacAddress.TryParse(net.Mac, out var mac, out string error)) add($"nets[{i}].mac", E(error));
            else if (!macs.Add(MacAddress.Format(mac))) add($"nets[{i}].mac", $"{E(net.Mac)} is also another NIC's address");
        }
    }

    /// <summary>virtio-fs: a tag of 1 to 36 bytes (virtio 1.2 §5.11.4), unique; an absolute folder path.</summary>
    private static void CheckFilesystems(ValueList<FsConfig> filesystems, Action<string, string> add)
    {
        var tags = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < filesystems.Count; i++)
        {
            var fs = filesystems[i];
            if (!VirtioFsDevice.IsValidTag(fs.Tag))
                add($"filesystems[{i}].tag", $"'{E(fs.Tag)}' must be 1 to 36 bytes without NUL (the guest mounts by it)");
            else if (!tags.Add(fs.Tag))
                add($"filesystems[{i}].tag", $"'{E(fs.Tag)}' is given twice (the guest could mount only one of them)");
            if (string.IsNullOrEmpty(fs.Path) || !System.IO.Path.IsPathFullyQualified(fs.Path))
                add($"filesystems[{i}].path", $"'{E(fs.Path ?? "")}' is not an absolute path: name the host folder to share");
        }
    }

    /// <summary>Ids follow <see cref="DeviceId"/> and are unique; slots are on the bus, unique, and there is one for every device.</summary>
    private static void CheckIdsAndSlots(List<PciDeviceLayout.Entry> entries, IReadOnlySet<int> chipset, Action<string, string> add)
    {
        var idOwners = new Dictionary<string, string>(StringComparer.Ordinal);
        var slotOwners = new Dictionary<int, string>();
        foreach (var (field, _, device) in entries)
        {
            if (device.Id is { } id)
            {
                if (!DeviceId.IsValid(id)) add($"{field}.id", $"'{E(id)}' is not an id: {DeviceId.Rule}");
                else if (!idOwners.TryAdd(id, field)) add($"{field}.id", $"'{E(id)}' is already the id of {E(idOwners[id])}");
            }
            if (device.Slot is { } slot)
            {
                if (slot < PciDeviceLayout.FirstSlot || slot > PciDeviceLayout.LastSlot)
                    add($"{field}.slot", $"must be between {PciDeviceLayout.FirstSlot} and {PciDeviceLayout.LastSlot} (slot 0 is the host bridge's)");
                else if (chipset.Contains(slot))
                    add($"{field}.slot", $"slot {slot} is the chipset's on a UEFI machine (the PIIX3 and PIIX4 functions OVMF looks for)");
                else if (!slotOwners.TryAdd(slot, field)) add($"{field}.slot", $"slot {slot} is already taken by {E(slotOwners[slot])}");
            }
        }
        var slots = PciDeviceLayout.Slots(entries, chipset);
        for (int i = 0; i < entries.Count; i++)
            if (slots[i] is null)
                add(entries[i].Field, $"no PCI slot is left for it: bus 0 has {PciDeviceLayout.LastSlot} for devices");
    }
}
