using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Platform;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>
/// The CPUID the software CPU shows (Intel SDM vol 2A "CPUID"): it advertises what is implemented.
/// The x87 FPU lacks only its transcendental instructions. MMX (its registers are the x87 ones, so
/// FXSAVE/FXRSTOR carry them) and SSE through SSE4.2 with CX16, POPCNT and LAHF/SAHF make the x86-64-v2
/// level, which Debian's glibc picks its string functions by.
/// With a platform (a VM, not a bare core in a test) it also shows the local APIC, the TSC-deadline
/// timer, an always-running APIC timer and KVM's paravirtual clock, so Linux needs no PIT to calibrate.
/// </summary>
public sealed class EmulatedCpuModel : ICpuPlatform
{
    /// <summary>The TSC frequency reported to the guest: one tick per guest nanosecond.</summary>
    public const ulong TscHz = 1_000_000_000;

    // "GenuineIntel" as EBX, EDX, ECX (vendor string order). A vendor of our own would be honest but costs the guest
    // its features: glibc reads leaf 1 only for the vendors it knows (sysdeps/x86/cpu-features.c, arch_kind_other),
    // so every dynamically linked program refuses to start ("CPU ISA level is lower than required"), and Linux warns
    // "vendor_id unknown, using generic init". QEMU's TCG CPU models claim a real vendor too.
    private const uint VendorEbx = 0x756E6547, VendorEdx = 0x49656E69, VendorEcx = 0x6C65746E;

    private const uint Leaf1EdxFeatures =
        (1u << 0)     // FPU: x87 (Executor.X87*.cs) without the transcendentals, which raise #UD and are reported
        | (1u << 3)   // PSE: 4 MiB pages
        | (1u << 4)   // TSC
        | (1u << 5)   // MSR
        | (1u << 6)   // PAE
        | (1u << 8)   // CX8
        | (1u << 13)  // PGE
        | (1u << 15)  // CMOV
        | (1u << 16)  // PAT
        | (1u << 17)  // PSE-36
        | (1u << 19)  // CLFLUSH
        | (1u << 23)  // MMX (Executor.Mmx.cs; MM0–7 are the x87 registers' significands)
        | (1u << 24)  // FXSAVE/FXRSTOR
        | (1u << 25)  // SSE (Executor.Sse*.cs, MXCSR rounding, DAZ, FTZ and exception flags included)
        | (1u << 26); // SSE2

    private const uint Leaf1EcxFeatures =
        (1u << 0)     // SSE3 (FISTTP, its one x87 instruction, comes with the x87 unit)
        | (1u << 9)   // SSSE3
        | (1u << 13)  // CMPXCHG16B
        | (1u << 19)  // SSE4.1
        | (1u << 20)  // SSE4.2 (PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM, CRC32, PCMPGTQ)
        | (1u << 23)  // POPCNT
        | (1u << 31); // running under a hypervisor

    private const uint Leaf1EdxApic = 1u << 9, Leaf1EcxTscDeadline = 1u << 24;

    /// <summary>Leaf 6 EAX bit 2: the APIC timer runs in every C-state (ARAT); Linux wants it to trust the LAPIC timer.</summary>
    private const uint Leaf6EaxArat = 1u << 2;

    private const uint Extended1EdxFeatures = (1u << 11) | (1u << 20) | (1u << 26) | (1u << 29); // SYSCALL, NX, 1 GiB pages, LM
    private const uint Extended1EcxFeatures = (1u << 0) | (1u << 5);                           // LAHF in 64-bit mode, LZCNT

    private readonly int _vcpuIndex, _vcpuCount;
    private readonly IGuestClock _clock;
    private readonly VcpuPlatform? _platform;

    /// <summary>A CPU without a platform around it (tests of the bare core): host time, no APIC.</summary>
    public EmulatedCpuModel(int vcpuIndex, int vcpuCount) : this(vcpuIndex, vcpuCount, new HostClock(), null) { }

    public EmulatedCpuModel(int vcpuIndex, int vcpuCount, IGuestClock clock, VcpuPlatform? platform)
    {
        (_vcpuIndex, _vcpuCount, _clock, _platform) = (vcpuIndex, vcpuCount, clock, platform);
    }

    /// <summary>Guest nanoseconds: the TSC runs at <see cref="TscHz"/>.</summary>
    public ulong ReadTsc() => (ulong)_clock.Nanoseconds;

    public bool TryReadMsr(uint index, out ulong value)
    {
        value = 0;
        return _platform?.TryReadMsr(index, out value) == true;
    }

    public bool TryWriteMsr(uint index, ulong value) => _platform?.TryWriteMsr(index, value) == true;

    public (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(uint leaf, uint subleaf)
    {
        bool platform = _platform is not null;
        return leaf switch
        {
            0 => (platform ? 6u : 1u, VendorEbx, VendorEcx, VendorEdx),
            // Family 6, model 0x0F; EBX: APIC id, logical processor count, CLFLUSH line size 64.
            1 => (0x0006_06F1, ((uint)_vcpuIndex << 24) | ((uint)_vcpuCount << 16) | (8 << 8),
                  Leaf1EcxFeatures | (platform ? Leaf1EcxTscDeadline : 0), Leaf1EdxFeatures | (platform ? Leaf1EdxApic : 0)),
            6 when platform => (Leaf6EaxArat, 0, 0, 0),
            0x4000_0000 when platform => KvmClock.SignatureLeaf,
            0x4000_0001 when platform => KvmClock.FeatureLeaf,
            0x8000_0000 => (0x8000_0008, 0, 0, 0),
            0x8000_0001 => (0, 0, Extended1EcxFeatures, Extended1EdxFeatures),
            0x8000_0008 => (0x3028, 0, 0, 0),   // 40 physical, 48 linear address bits
            _ => (0, 0, 0, 0),
        };
    }
}
