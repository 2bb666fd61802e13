using KvmSharp.Native.Kvm;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// The CPUID a vCPU shows: what KVM supports on this host, with the topology of this VM filled in
/// (Intel SDM vol 2A, CPUID leaves 01H, 04H, 0BH/1FH). Each vCPU is one core of one package.
/// </summary>
internal static class KvmCpuidModel
{
    /// <summary>CPUID.01H:ECX bit 31: running under a hypervisor.</summary>
    private const uint HypervisorPresent = 1u << 31;

    /// <summary>CPUID.01H:EDX bit 9: an on-chip APIC. KVM leaves it to the VMM, which knows it created the in-kernel LAPIC.</summary>
    private const uint ApicOnChip = 1u << 9;

    /// <summary>CPUID.01H:EDX bit 28: HTT, the logical-processor count in EBX[23:16] is valid.</summary>
    private const uint HyperThreadingField = 1u << 28;

    public static KvmCpuidEntry2[] ForVcpu(KvmCpuidEntry2[] supported, int index, int vcpuCount)
    {
        var entries = (KvmCpuidEntry2[])supported.Clone();
        uint apicId = (uint)index;
        int coreBits = BitsFor(vcpuCount);
        for (int i = 0; i < entries.Length; i++)
        {
            ref var e = ref entries[i];
            switch (e.Function)
            {
                case 0x1:
                    // EBX[31:24] initial APIC id, EBX[23:16] logical processors per package, EBX[15:8] CLFLUSH size (8 x 8 bytes).
                    e.Ebx = (apicId << 24) | ((uint)Math.Min(vcpuCount, 255) << 16) | (8 << 8);
                    e.Ecx |= HypervisorPresent;
                    e.Edx |= ApicOnChip;
                    if (vcpuCount > 1) e.Edx |= HyperThreadingField; else e.Edx &= ~HyperThreadingField;
                    break;
                case 0x4:
                    // EAX[31:26]: cores per package - 1; EAX[25:14]: logical processors sharing this cache - 1 (one core each).
                    if ((e.Eax & 0x1F) != 0)
                        e.Eax = (e.Eax & 0x3FFF) | ((uint)(vcpuCount - 1) << 26);
                    break;
                case 0xB:
                case 0x1F:
                    // Level 0 = SMT (one thread per core), level 1 = core; EDX is the x2APIC id on every sub-leaf.
                    e.Edx = apicId;
                    if (e.Index == 0) { e.Eax = 0; e.Ebx = 1; e.Ecx = 0x100; }
                    else if (e.Index == 1) { e.Eax = (uint)coreBits; e.Ebx = (uint)vcpuCount; e.Ecx = 0x200 | 1; }
                    else { e.Eax = 0; e.Ebx = 0; e.Ecx = e.Index; }
                    break;
            }
        }
        return entries;
    }

    private static int BitsFor(int count) => count <= 1 ? 0 : 32 - System.Numerics.BitOperations.LeadingZeroCount((uint)(count - 1));
}
