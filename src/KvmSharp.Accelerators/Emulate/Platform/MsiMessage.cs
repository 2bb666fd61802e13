namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The x86 MSI format (SDM vol 3 §11.11.1, §11.11.2): address 0xFEEx_xxxx with the destination APIC id
/// in bits 19:12 and the destination mode in bit 2; data with the vector in bits 7:0, the delivery mode
/// in 10:8 and the trigger mode in bit 15. The redirection hint (address bit 3) only narrows a
/// logical destination to lowest priority, which our bus already does by delivery mode.
/// </summary>
public static class MsiMessage
{
    private const ulong AddressWindowMask = 0xFFFF_FFFF_FFF0_0000, AddressWindow = 0xFEE0_0000;

    /// <summary>False for an address outside the interrupt window (a misprogrammed device): the write goes nowhere.</summary>
    public static bool TryDecode(ulong address, uint data, out InterruptMessage message)
    {
        message = default;
        if ((address & AddressWindowMask) != AddressWindow) return false;
        message = new InterruptMessage(
            Vector: (byte)data,
            DeliveryMode: (ApicDeliveryMode)((data >> 8) & 7),
            Destination: (byte)(address >> 12),
            LogicalDestination: (address & 4) != 0,
            LevelTriggered: (data & 0x8000) != 0);
        return true;
    }
}
