namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>The software CPU's PC chipset: IOAPIC, 8259 pair, and the PIT where the VM has one.</summary>
public sealed record LegacyChipsetState
{
    public IoApicState IoApic { get; init; } = new();
    public Pic8259PairState Pics { get; init; } = new();

    /// <summary>Null for a VM without a PIT (<c>--no-pit</c>); a state loads only into a VM of the same kind.</summary>
    public Pit8254State? Pit { get; init; }
}
