using KvmSharp.Accelerators.Emulate.Platform;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>
/// The software CPU's VM besides its vCPUs and RAM: guest time and the chipset (IOAPIC, 8259s, PIT). Every time
/// in the VM's and vCPUs' states is on the guest-time axis, which a restore continues from <see cref="GuestNanoseconds"/>.
/// </summary>
public sealed record EmulatedVmState : VmState
{
    /// <summary>The vCPUs the VM was built with: a state loads only into a VM with as many.</summary>
    public int VcpuCount { get; init; }

    /// <summary>Guest time when saved (nanoseconds since the VM first started).</summary>
    public long GuestNanoseconds { get; init; }

    /// <summary>Null for a VM without a chipset.</summary>
    public LegacyChipsetState? Chipset { get; init; }
}
