namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>How a local APIC treats an interrupt message (SDM vol 3 §10.6.1, ICR delivery mode; 82093AA §3.2.4).</summary>
public enum ApicDeliveryMode : byte
{
    Fixed = 0,
    LowestPriority = 1,
    Smi = 2,
    Nmi = 4,
    Init = 5,
    StartUp = 6,
    ExtInt = 7,
}

/// <summary>
/// An interrupt sent to the local APICs, as an IOAPIC redirection entry (82093AA §3.2.4) or an MSI
/// (SDM vol 3 §10.11) describes it.
/// </summary>
public readonly record struct InterruptMessage(
    byte Vector, ApicDeliveryMode DeliveryMode, byte Destination, bool LogicalDestination, bool LevelTriggered);

/// <summary>The local APICs of all vCPUs as one bus: the IOAPIC (and later MSI) delivers here.</summary>
public interface IApicBus
{
    void Deliver(in InterruptMessage message);
}

/// <summary>
/// Told when a local APIC takes an EOI for a level-triggered vector, so the IOAPIC clears that pin's
/// Remote IRR (SDM vol 3 §10.8.5).
/// </summary>
public interface IEndOfInterruptListener
{
    void EndOfInterrupt(byte vector);
}

/// <summary>
/// The 8259 pair's INTR output and interrupt-acknowledge cycle, as the CPU sees it through LINT0 in
/// ExtINT mode or while its local APIC is disabled (SDM vol 3 §10.5.1).
/// </summary>
public interface IExternalInterruptController
{
    bool InterruptRequested { get; }

    /// <summary>The INTA cycle: the vector of the highest-priority request, now in service.</summary>
    byte Acknowledge();
}
