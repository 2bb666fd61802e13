using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>The software x86-64 CPU: runs a guest on any host, no /dev/kvm needed.</summary>
public sealed class EmulatorAccelerator(Action<string>? notice = null) : IAccelerator
{
    public string Name => "emulate";

    public IVirtualMachine CreateVirtualMachine(GuestMemory memory, VirtualMachineOptions options) =>
        new EmulatedVirtualMachine(memory, options, line => (notice ?? Console.Error.WriteLine)($"kvmsharp: {line}"));

    public void Dispose() { }
}
