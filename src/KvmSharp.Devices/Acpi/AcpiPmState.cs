namespace KvmSharp.Devices.Acpi;

/// <summary>
/// The ACPI PM block's saved state: PM1 status, enable and control as the guest left them, and the PM timer as a
/// count. The timer's base is its time source's reading when the device was made; that reading means nothing
/// in another process, so the count is saved instead and the base is set again on restore, which makes the
/// timer run on from the saved count (a guest that reads it across the snapshot sees no time pass).
/// </summary>
public sealed record AcpiPmState
{
    public ushort Status { get; init; }
    public ushort Enable { get; init; }

    /// <summary>PM1_CNT's read-back bits (BM_RLD, SLP_TYP); SCI_EN always reads 1.</summary>
    public ushort Control { get; init; }

    /// <summary>3.579545 MHz ticks the timer had counted at the save (all 64 bits; the guest sees the low 24).</summary>
    public ulong TimerTicks { get; init; }

    /// <summary>The timer's bit 23 period (ticks >> 23) when the guest last cleared TMR_STS.</summary>
    public ulong TimerStatusEpoch { get; init; }
}
