using KvmSharp.Memory;

namespace KvmSharp.Boot.Acpi;

/// <summary>
/// What the ACPI tables say about the platform: CPUs, interrupt controllers, the PM block and the SCI.
/// <see cref="Default"/> describes the standard KvmSharp machine (see <see cref="MemoryMap"/>).
/// </summary>
/// <param name="VcpuCount">vCPUs; each gets Local APIC ID and ACPI processor UID equal to its index (1-254: xAPIC IDs, 0xFF is broadcast).</param>
/// <param name="IoApicId">The IOAPIC's ID (KVM's in-kernel IOAPIC resets to 0).</param>
/// <param name="IoApicAddress">The IOAPIC's MMIO base.</param>
/// <param name="IoApicGsiBase">The first GSI the IOAPIC's pins serve.</param>
/// <param name="LapicAddress">The Local APIC's MMIO base, the same for every CPU.</param>
/// <param name="PmPortBase">First port of the PM register block (layout: <see cref="AcpiPmLayout"/>).</param>
/// <param name="SciIrq">The ISA IRQ the SCI is wired to (FADT SCI_INT).</param>
/// <param name="InterruptOverrides">Interrupt Source Overrides for the MADT.</param>
public sealed record AcpiPlatform(
    int VcpuCount,
    byte IoApicId,
    uint IoApicAddress,
    uint IoApicGsiBase,
    uint LapicAddress,
    ushort PmPortBase,
    byte SciIrq,
    IReadOnlyList<InterruptSourceOverride> InterruptOverrides)
{
    public const int MaxVcpus = 254;
    public const byte DefaultSciIrq = 9;

    /// <summary>
    /// The standard machine: IOAPIC 0 at GSI 0, the PIT's IRQ 0 on GSI 2 (where the IOAPIC wires it, as on
    /// every PC since the MPS), and the SCI on IRQ 9, level-triggered and active-high (the PM device drives
    /// a level; without an override the OS would assume ISA edge).
    /// </summary>
    public static AcpiPlatform Default(int vcpuCount) => new(
        vcpuCount,
        IoApicId: 0,
        IoApicAddress: (uint)MemoryMap.IoApicStart,
        IoApicGsiBase: 0,
        LapicAddress: (uint)MemoryMap.LapicStart,
        PmPortBase: MemoryMap.AcpiPmIoBase,
        SciIrq: DefaultSciIrq,
        InterruptOverrides:
        [
            new InterruptSourceOverride(0, 2, InterruptPolarity.Conforming, InterruptTrigger.Edge),
            new InterruptSourceOverride(DefaultSciIrq, DefaultSciIrq, InterruptPolarity.ActiveHigh, InterruptTrigger.Level),
        ]);

    /// <summary>Throws when the platform cannot be described (a VMM bug or a config the builder should have refused).</summary>
    public void Validate()
    {
        if (VcpuCount is < 1 or > MaxVcpus)
            throw new ArgumentOutOfRangeException(nameof(VcpuCount), $"ACPI tables describe 1-{MaxVcpus} vCPUs, not {VcpuCount}");
        if (SciIrq > 15)
            throw new ArgumentOutOfRangeException(nameof(SciIrq), $"the SCI must be an ISA IRQ (0-15), not {SciIrq}");
        ArgumentNullException.ThrowIfNull(InterruptOverrides);
    }
}
