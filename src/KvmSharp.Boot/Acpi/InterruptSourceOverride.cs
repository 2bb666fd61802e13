namespace KvmSharp.Boot.Acpi;

/// <summary>MPS INTI polarity (ACPI 6.5 §5.2.12.5, Table 5.26, bits 0-1).</summary>
public enum InterruptPolarity : ushort
{
    /// <summary>Conforms to the bus: active-high for ISA.</summary>
    Conforming = 0,
    ActiveHigh = 1,
    ActiveLow = 3,
}

/// <summary>MPS INTI trigger mode (ACPI 6.5 §5.2.12.5, Table 5.26, bits 2-3).</summary>
public enum InterruptTrigger : ushort
{
    /// <summary>Conforms to the bus: edge for ISA.</summary>
    Conforming = 0,
    Edge = 1,
    Level = 3,
}

/// <summary>An ISA IRQ that reaches the IOAPIC on another GSI, or with other flags, than identity (ACPI 6.5 §5.2.12.5).</summary>
public readonly record struct InterruptSourceOverride(byte IsaIrq, uint Gsi, InterruptPolarity Polarity, InterruptTrigger Trigger)
{
    /// <summary>The MPS INTI flags word.</summary>
    public ushort Flags => (ushort)((ushort)Polarity | (ushort)Trigger << 2);
}
