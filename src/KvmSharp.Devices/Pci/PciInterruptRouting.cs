namespace KvmSharp.Devices.Pci;

/// <summary>
/// How the INTx pins of bus 0 reach the IOAPIC: GSIs 16–19, rotated by slot as PCI-to-PCI bridges
/// swizzle (PCI-to-PCI Bridge spec 1.2 §9.1), so devices in consecutive slots spread over the four lines.
/// The host bridge's _PRT publishes the same table (ACPI 6.5 §6.2.13); the lines are level-triggered and
/// shared, as PCI interrupts are.
/// </summary>
public static class PciInterruptRouting
{
    public const uint FirstGsi = 16;
    public const int Lines = 4;

    /// <param name="pin">0–3 for INTA#–INTD#.</param>
    public static uint Gsi(int slot, int pin) => FirstGsi + (uint)((slot + pin) % Lines);
}
