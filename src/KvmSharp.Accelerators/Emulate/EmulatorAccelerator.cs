using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>The software x86-64 CPU: runs a guest on any host, no /dev/kvm needed.</summary>
/// <param name="notice">Where one-line notices go (unimplemented instructions); stderr by default.</param>
/// <param name="chipset">
/// Builds the VM's IOAPIC, 8259s and PIT around its platform; null (for now the default): no chipset,
/// interrupt lines are dropped.
/// </param>
public sealed class EmulatorAccelerator(Action<string>? notice = null,
    Func<EmulatedPlatform, VirtualMachineOptions, IChipset?>? chipset = null) : IAccelerator
{
    public string Name => "emulate";

    public IVirtualMachine CreateVirtualMachine(GuestMemory memory, VirtualMachineOptions options) =>
        new EmulatedVirtualMachine(memory, options, line => (notice ?? Console.Error.WriteLine)($"kvmsharp: {line}"), chipset);

    public void Dispose() { }
}
