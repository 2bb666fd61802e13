namespace KvmSharp.Machine.Config;

/// <summary>
/// The checks on boot indexes (part of <see cref="MachineConfig.Validate"/>): each at least 1 and no two alike across
/// disks and NICs (QEMU refuses a bootindex used twice, libvirt a boot order used twice); only with firmware, which is
/// what reads them; and never on a NIC, which cannot boot here.
/// </summary>
public static class BootOrderRules
{
    /// <summary>Why a NIC cannot be a boot device, in one sentence.</summary>
    public const string NoNetworkBoot =
        "a NIC cannot boot here: SeaBIOS boots from the network only through a NIC's option ROM (iPXE), which KvmSharp does not load, and network boot through OVMF is not supported either";

    internal static void Check(MachineConfig config, Action<string, string> add)
    {
        var seen = new HashSet<int>();
        for (int i = 0; i < config.Disks.Count; i++)
            if (config.Disks[i].BootIndex is { } index) CheckIndex(config, $"disks[{i}].boot_index", index, seen, add);
        for (int i = 0; i < config.Nets.Count; i++)
            if (config.Nets[i].BootIndex is not null) add($"nets[{i}].boot_index", NoNetworkBoot);
    }

    private static void CheckIndex(MachineConfig config, string field, int index, HashSet<int> seen, Action<string, string> add)
    {
        if (index < 1)
            add(field, $"{index} is not a boot index: 1 is tried first, 2 next, and so on");
        else if (config.Firmware is null)
            add(field, "needs firmware ({firmware} bios or uefi): a kernel loaded directly boots from no disk");
        else if (!seen.Add(index))
            add(field, $"boot index {index} is given twice: each device needs its own");
    }
}
