using KvmSharp.Native.X86;

namespace KvmSharp.Boot.Cpu;

/// <summary>
/// The register state the boot vCPU starts in, as a loader prepared it. The accelerator sets both parts
/// (KVM_SET_REGS, KVM_SET_SREGS) before the first run; memory the state refers to (GDT, page tables,
/// boot parameters) is already written.
/// </summary>
public readonly struct BootCpuState(Registers registers, SpecialRegisters specialRegisters)
{
    public Registers Registers { get; } = registers;

    public SpecialRegisters SpecialRegisters { get; } = specialRegisters;
}
