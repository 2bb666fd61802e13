using System.Buffers.Binary;
using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// KVM's paravirtual clock as the guest sees it (Linux Documentation/virt/kvm/x86/msr.rst, cpuid.rst):
/// the hypervisor CPUID leaves that name KVM with only KVM_FEATURE_CLOCKSOURCE2 and
/// KVM_FEATURE_CLOCKSOURCE_STABLE_BIT, and the two MSRs through which the guest asks for a
/// pvclock_vcpu_time_info (per vCPU) and a pvclock_wall_clock. Linux then takes the TSC frequency
/// from it and skips calibrating against the PIT.
/// </summary>
public static class KvmClock
{
    public const uint MsrWallClock = 0x4B56_4D00, MsrSystemTime = 0x4B56_4D01;

    public const uint FeatureClockSource2 = 1u << 3, FeatureStableBit = 1u << 24;

    /// <summary>"KVMKVMKVM\0\0\0" as EBX, ECX, EDX of leaf 0x40000000; EAX is the highest hypervisor leaf.</summary>
    public static (uint Eax, uint Ebx, uint Ecx, uint Edx) SignatureLeaf => (0x4000_0001, 0x4B4D_564B, 0x564B_4D56, 0x0000_004D);

    /// <summary>Leaf 0x40000001: features in EAX, hints (none) in EDX.</summary>
    public static (uint Eax, uint Ebx, uint Ecx, uint Edx) FeatureLeaf => (FeatureClockSource2 | FeatureStableBit, 0, 0, 0);

    private const byte PvclockTscStable = 1;

    /// <summary>
    /// Writes the vCPU time structure at <paramref name="address"/>: guest time = system_time +
    /// scale(tsc - tsc_timestamp). Our TSC counts guest nanoseconds plus a per-vCPU offset, so the scale
    /// is 1 (mul 2^31 with shift 1, which pvclock reads as a 1 GHz TSC). False when it is not in RAM.
    /// </summary>
    public static bool WriteTimeInfo(GuestMemory memory, ulong address, long nowNanoseconds, ulong tscNow)
    {
        Span<byte> info = stackalloc byte[32];
        info.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(info, 2);                          // version: even = consistent
        BinaryPrimitives.WriteUInt64LittleEndian(info[8..], tscNow);                // tsc_timestamp
        BinaryPrimitives.WriteUInt64LittleEndian(info[16..], (ulong)nowNanoseconds); // system_time
        BinaryPrimitives.WriteUInt32LittleEndian(info[24..], 1u << 31);              // tsc_to_system_mul
        info[28] = 1;                                                               // tsc_shift
        info[29] = PvclockTscStable;                                                // flags
        return memory.TryWrite(new GuestAddress(address), info);
    }

    /// <summary>The wall-clock structure: host real time at guest time 0 (version, sec, nsec).</summary>
    public static bool WriteWallClock(GuestMemory memory, ulong address, long nowNanoseconds)
    {
        long bootNanoseconds = (DateTime.UtcNow - DateTime.UnixEpoch).Ticks * 100 - nowNanoseconds;
        Span<byte> clock = stackalloc byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(clock, 2);
        BinaryPrimitives.WriteUInt32LittleEndian(clock[4..], (uint)(bootNanoseconds / 1_000_000_000));
        BinaryPrimitives.WriteUInt32LittleEndian(clock[8..], (uint)(bootNanoseconds % 1_000_000_000));
        return memory.TryWrite(new GuestAddress(address), clock);
    }
}
