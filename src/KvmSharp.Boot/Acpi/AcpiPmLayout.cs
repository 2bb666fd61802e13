namespace KvmSharp.Boot.Acpi;

/// <summary>
/// Where the fixed-hardware PM registers (ACPI 6.5 §4.8.3) sit inside the PM I/O block at
/// MemoryMap.AcpiPmIoBase, and the sleep type the machine treats as S5. The FADT and the DSDT's <c>\_S5_</c>
/// are written from these, and the PM device decodes with them, so the two cannot disagree.
/// </summary>
public static class AcpiPmLayout
{
    /// <summary>PM1a_EVT_BLK: PM1_STS (2 bytes) then PM1_EN (2 bytes), §4.8.3.1.</summary>
    public const int Pm1EventOffset = 0;
    public const int Pm1EventLength = 4;

    /// <summary>PM1a_CNT_BLK: PM1_CNT, §4.8.3.2.</summary>
    public const int Pm1ControlOffset = 4;
    public const int Pm1ControlLength = 2;

    /// <summary>PM_TMR_BLK: the 24-bit power-management timer, §4.8.3.3.</summary>
    public const int TimerOffset = 8;
    public const int TimerLength = 4;

    /// <summary>Ports the whole block spans.</summary>
    public const int BlockLength = 12;

    /// <summary>
    /// SLP_TYP for S5 (soft off). SLP_TYP values are the platform's choice (§7.4.2: the OS reads them from
    /// <c>\_S5_</c>); 5 reads as what it means.
    /// </summary>
    public const byte S5SleepType = 5;
}
