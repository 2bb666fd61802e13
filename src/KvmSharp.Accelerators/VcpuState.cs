using System.Text.Json.Serialization;
using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Kvm;

namespace KvmSharp.Accelerators;

/// <summary>
/// The saved state of one vCPU (snapshots, live migration), as <see cref="IVcpu.SaveState"/> gives it. Each
/// accelerator has its own form; the "accelerator" property names it in JSON, and a vCPU refuses a state of
/// the other accelerator. Plain data: the machine layer serializes it with its source-generated JSON context.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "accelerator")]
[JsonDerivedType(typeof(EmulatedVcpuState), "emulate")]
[JsonDerivedType(typeof(KvmVcpuState), "kvm")]
public abstract record VcpuState
{
    /// <summary>The vCPU it was saved from (its APIC id): a state loads only into the vCPU of the same index.</summary>
    public int Index { get; init; }
}

/// <summary>
/// The saved state of a VM besides its vCPUs and RAM: the interrupt controllers and timers the accelerator
/// keeps (KVM's in-kernel irqchip and PIT, or the software CPU's chipset) and guest time.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "accelerator")]
[JsonDerivedType(typeof(EmulatedVmState), "emulate")]
[JsonDerivedType(typeof(KvmVmState), "kvm")]
public abstract record VmState;
