using KvmSharp.Memory;

namespace KvmSharp.Accelerators;

/// <summary>
/// A way to run a guest: KVM, or the software CPU. The machine layer sees only these interfaces,
/// so every device, loader and management feature works the same on both.
/// </summary>
public interface IAccelerator : IDisposable
{
    /// <summary>"kvm" or "emulate".</summary>
    string Name { get; }

    /// <summary>Creates a VM whose RAM is <paramref name="memory"/> (mapped in full) with the platform interrupt controllers.</summary>
    IVirtualMachine CreateVirtualMachine(GuestMemory memory, int vcpuCount);
}

/// <summary>One guest: its memory slots, its vCPUs and its interrupt lines.</summary>
public interface IVirtualMachine : IDisposable
{
    GuestMemory Memory { get; }

    /// <summary>Creates vCPU <paramref name="index"/> (0 is the bootstrap processor). Call from any thread.</summary>
    IVcpu CreateVcpu(int index);

    /// <summary>
    /// Drives a global system interrupt (GSI) line of the interrupt controllers: high or low.
    /// An edge-triggered input fires on the rising edge; a level-triggered one while high.
    /// </summary>
    void SetInterruptLine(uint gsi, bool high);
}
