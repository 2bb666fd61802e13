namespace KvmSharp.Machine.Config;

/// <summary>
/// Where a config's virtio devices go on PCI bus 0 and what they are called when the config does not say.
/// Devices are listed in the order slots were always given out (disks, NICs, entropy, balloon, vsock, console, then virtio-fs shares),
/// so a config without slots puts each device where earlier versions did and the guest sees the same machine.
/// A device with a slot keeps it; each other takes the lowest slot still free, so adding a device never moves one
/// that has its slot.
/// </summary>
internal static class PciDeviceLayout
{
    /// <summary>Slot 0 is the host bridge's; a bus has 32 (PCI Local Bus 3.0 §3.2.2.3.1: 5 device-number bits).</summary>
    public const int FirstSlot = 1, LastSlot = 31;

    /// <summary>One device: its JSON path, the stem of its default id (disk → disk0, disk1, …) and its config.</summary>
    public readonly record struct Entry(string Field, string IdStem, IPciDeviceConfig Device);

    public static List<Entry> Entries(MachineConfig config)
    {
        var entries = new List<Entry>();
        for (int i = 0; i < config.Disks.Count; i++) entries.Add(new($"disks[{i}]", "disk", config.Disks[i]));
        for (int i = 0; i < config.Nets.Count; i++) entries.Add(new($"nets[{i}]", "net", config.Nets[i]));
        if (config.Rng is { } rng) entries.Add(new("rng", "rng", rng));
        if (config.Balloon is { } balloon) entries.Add(new("balloon", "balloon", balloon));
        if (config.Vsock is { } vsock) entries.Add(new("vsock", "vsock", vsock));
        if (config.VirtioConsole is { } console) entries.Add(new("virtio_console", "hvc", console));
        for (int i = 0; i < config.Filesystems.Count; i++) entries.Add(new($"filesystems[{i}]", "fs", config.Filesystems[i]));
        return entries;
    }

    /// <summary>Each device's id: its own, or its stem with the lowest number no other device uses.</summary>
    public static string[] Ids(IReadOnlyList<Entry> entries)
    {
        var used = entries.Where(e => e.Device.Id is not null).Select(e => e.Device.Id!).ToHashSet(StringComparer.Ordinal);
        var ids = new string[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i].Device.Id is { } own) { ids[i] = own; continue; }
            int n = 0;
            while (used.Contains($"{entries[i].IdStem}{n}")) n++;
            ids[i] = $"{entries[i].IdStem}{n}";
            used.Add(ids[i]);
        }
        return ids;
    }

    /// <summary>
    /// Slots the machine's chipset takes: on a UEFI machine slot 1 holds the PIIX3/PIIX4 functions OVMF looks for
    /// (00:01.0 and 00:01.3, as on QEMU's pc machine); otherwise none.
    /// </summary>
    public static IReadOnlySet<int> ChipsetSlots(MachineConfig config) =>
        config.Firmware?.Kind == FirmwareKind.Uefi ? new HashSet<int> { 1 } : new HashSet<int>();

    /// <summary>Each device's slot: its own (even when wrong: validation says so), or the lowest free one; null when the bus is full.</summary>
    public static int?[] Slots(IReadOnlyList<Entry> entries, IReadOnlySet<int> chipset)
    {
        var taken = entries.Select(e => e.Device.Slot).OfType<int>().Concat(chipset).ToHashSet();
        var slots = new int?[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            if (entries[i].Device.Slot is { } own) { slots[i] = own; continue; }
            for (int slot = FirstSlot; slot <= LastSlot && slots[i] is null; slot++)
                if (taken.Add(slot)) slots[i] = slot;
        }
        return slots;
    }
}
