using KvmSharp.Native.Kvm;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>One MSI message bound to a GSI of its own, so that an irqfd on that GSI delivers it.</summary>
public readonly record struct MsiRoute(ulong Address, uint Data, uint Gsi);

/// <summary>
/// The GSI routing table given to KVM_SET_GSI_ROUTING. That ioctl replaces the whole table, so it must
/// repeat the routes KVM_CREATE_IRQCHIP installed (Linux kvm_setup_default_irq_routing, arch/x86/kvm):
/// GSI 0–15 go to both the IOAPIC pin of the same number and the 8259 pin gsi%8 (master for 0–7,
/// slave for 8–15); GSI 16–23 to the IOAPIC only. The kernel makes no exception for GSI 2 there.
/// </summary>
public static class KvmIrqRoutingTable
{
    /// <summary>IOAPIC pins of the in-kernel irqchip: the first GSI free for MSI routes.</summary>
    public const uint FirstMsiGsi = 24;

    private const int LegacyPicInputs = 16;
    private const int DefaultEntryCount = LegacyPicInputs * 2 + ((int)FirstMsiGsi - LegacyPicInputs);

    public static KvmIrqRoutingEntry[] Build(ReadOnlySpan<MsiRoute> msiRoutes)
    {
        var table = new KvmIrqRoutingEntry[DefaultEntryCount + msiRoutes.Length];
        int n = 0;
        for (uint gsi = 0; gsi < FirstMsiGsi; gsi++)
        {
            table[n++] = Irqchip(gsi, KvmIrqRoutingEntry.ChipIoapic, gsi);
            if (gsi < LegacyPicInputs)
                table[n++] = Irqchip(gsi, gsi < 8 ? KvmIrqRoutingEntry.ChipPicMaster : KvmIrqRoutingEntry.ChipPicSlave, gsi % 8);
        }
        foreach (var route in msiRoutes)
            table[n++] = new KvmIrqRoutingEntry
            {
                Gsi = route.Gsi, Type = KvmIrqRoutingEntry.TypeMsi,
                AddressLow = (uint)route.Address, AddressHigh = (uint)(route.Address >> 32), Data = route.Data,
            };
        return table;
    }

    private static KvmIrqRoutingEntry Irqchip(uint gsi, uint chip, uint pin) =>
        new() { Gsi = gsi, Type = KvmIrqRoutingEntry.TypeIrqchip, Chip = chip, Pin = pin };
}
