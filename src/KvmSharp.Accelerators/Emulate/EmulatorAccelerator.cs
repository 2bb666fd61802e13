using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>The software x86-64 CPU: runs a guest on any host, no /dev/kvm needed.</summary>
/// <param name="notice">Where one-line notices go (unimplemented instructions); stderr by default.</param>
/// <param name="chipset">
/// Builds the VM's IOAPIC, 8259s and PIT around its platform; null: the PC's (<see cref="LegacyChipset"/>).
/// A factory that returns null leaves the VM without one (interrupt lines are then dropped).
/// </param>
public sealed class EmulatorAccelerator(Action<string>? notice = null,
    Func<EmulatedPlatform, VirtualMachineOptions, IChipset?>? chipset = null) : IAccelerator
{
    public string Name => "emulate";

    public IVirtualMachine CreateVirtualMachine(GuestMemory memory, VirtualMachineOptions options) =>
        new EmulatedVirtualMachine(memory, options, line => (notice ?? Console.Error.WriteLine)($"kvmsharp: {line}"),
            chipset ?? ((platform, o) => new LegacyChipset(platform.Bus, platform.Clock, withPit: o.LegacyTimer)));

    public void Dispose() { }
}
