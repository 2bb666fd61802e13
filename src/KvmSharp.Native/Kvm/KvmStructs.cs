using System.Runtime.InteropServices;

namespace KvmSharp.Native.Kvm;

// Blittable copies of the x86-64 structures in linux/kvm.h and arch/x86/include/uapi/asm/kvm.h.
// Sizes are checked against the host's headers by the test suite.

/// <summary>struct kvm_run: the page shared with the kernel that describes each exit.</summary>
[StructLayout(LayoutKind.Explicit, Size = 2352)]
public struct KvmRun
{
    [FieldOffset(0)] public byte RequestInterruptWindow;
    [FieldOffset(1)] public byte ImmediateExit;
    [FieldOffset(8)] public uint ExitReason;
    [FieldOffset(12)] public byte ReadyForInterruptInjection;
    [FieldOffset(13)] public byte IfFlag;
    [FieldOffset(14)] public ushort Flags;
    [FieldOffset(16)] public ulong Cr8;
    [FieldOffset(24)] public ulong ApicBase;
    // The exit-specific union starts at offset 32.
    [FieldOffset(32)] public KvmRunIo Io;
    [FieldOffset(32)] public KvmRunMmio Mmio;
    [FieldOffset(32)] public KvmRunFailEntry FailEntry;
    [FieldOffset(32)] public KvmRunInternal Internal;
    [FieldOffset(32)] public KvmRunSystemEvent SystemEvent;
    [FieldOffset(32)] public KvmRunException Exception;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmRunIo
{
    public byte Direction;
    public byte Size;
    public ushort Port;
    public uint Count;
    /// <summary>Offset of the data from the start of kvm_run.</summary>
    public ulong DataOffset;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmRunMmio
{
    public ulong PhysAddr;
    public fixed byte Data[8];
    public uint Length;
    public byte IsWrite;
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmRunFailEntry
{
    public ulong HardwareEntryFailureReason;
    public uint Cpu;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmRunInternal
{
    public uint Suberror;
    public uint DataCount;
    public fixed ulong Data[16];
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmRunSystemEvent
{
    public uint Type;
    public uint DataCount;
    public fixed ulong Data[16];
}

[StructLayout(LayoutKind.Sequential)]
public struct KvmRunException
{
    public uint Exception;
    public uint ErrorCode;
}

/// <summary>struct kvm_userspace_memory_region.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmUserspaceMemoryRegion
{
    public uint Slot;
    public uint Flags;
    public ulong GuestPhysAddr;
    public ulong MemorySize;
    public ulong UserspaceAddr;
}

/// <summary>struct kvm_cpuid_entry2.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmCpuidEntry2
{
    public uint Function;
    public uint Index;
    public uint Flags;
    public uint Eax, Ebx, Ecx, Edx;
    public fixed uint Padding[3];

    public const uint FlagSignificantIndex = 1;
}

/// <summary>Header of struct kvm_cpuid2; entries follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmCpuid2Header
{
    public uint EntryCount;
    public uint Padding;
}

/// <summary>struct kvm_msr_entry.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrEntry
{
    public uint Index;
    public uint Reserved;
    public ulong Data;
}

/// <summary>Header of struct kvm_msrs; entries follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMsrsHeader
{
    public uint Count;
    public uint Padding;
}

/// <summary>struct kvm_msi (KVM_SIGNAL_MSI): an MSI's address and data; flags and devid stay 0 on x86.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmMsi
{
    public uint AddressLow;
    public uint AddressHigh;
    public uint Data;
    public uint Flags;
    public uint DeviceId;
    public fixed byte Padding[12];
}

/// <summary>struct kvm_irq_level.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqLevel
{
    public uint Irq;
    public uint Level;
}

/// <summary>struct kvm_pit_config.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmPitConfig
{
    public uint Flags;
    public fixed uint Padding[15];

    /// <summary>KVM_PIT_SPEAKER_DUMMY: the kernel emulates port 0x61 too.</summary>
    public const uint SpeakerDummy = 1;
}

/// <summary>struct kvm_translation.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmTranslation
{
    public ulong LinearAddress;
    public ulong PhysicalAddress;
    public byte Valid;
    public byte Writeable;
    public byte UserMode;
    public fixed byte Padding[5];
}

/// <summary>struct kvm_signal_mask with room for the kernel's 8-byte sigset.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmSignalMask
{
    public uint Length;
    public uint SigsetLow;
    public uint SigsetHigh;
}

/// <summary>struct kvm_mp_state.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmMpState
{
    public uint State;

    public const uint Runnable = 0, Uninitialized = 1, InitReceived = 2, Halted = 3, SipiReceived = 4;
}

/// <summary>
/// struct kvm_ioeventfd: the kernel signals <see cref="Fd"/> on a guest write of <see cref="Length"/>
/// bytes at <see cref="Address"/> instead of exiting (Documentation/virt/kvm/api.rst, KVM_IOEVENTFD).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmIoeventfd
{
    public ulong Datamatch;
    public ulong Address;
    public uint Length;
    public int Fd;
    public uint Flags;
    public fixed byte Padding[36];

    /// <summary>KVM_IOEVENTFD_FLAG_DEASSIGN: remove the registration that matches the other fields.</summary>
    public const uint FlagDeassign = 1 << 2;
}

/// <summary>struct kvm_irqfd: a write to eventfd <see cref="Fd"/> raises <see cref="Gsi"/> in the kernel.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmIrqfd
{
    public uint Fd;
    public uint Gsi;
    public uint Flags;
    public uint ResampleFd;
    public fixed byte Padding[16];

    public const uint FlagDeassign = 1;
}

/// <summary>Header of struct kvm_irq_routing (KVM_SET_GSI_ROUTING); entries follow it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmIrqRoutingHeader
{
    public uint EntryCount;
    public uint Flags;
}

/// <summary>
/// struct kvm_irq_routing_entry with the two union members x86 uses: an irqchip pin
/// (<see cref="Chip"/>/<see cref="Pin"/>) or an MSI message (<see cref="AddressLow"/>…<see cref="Data"/>).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 48)]
public struct KvmIrqRoutingEntry
{
    [FieldOffset(0)] public uint Gsi;
    [FieldOffset(4)] public uint Type;
    [FieldOffset(8)] public uint Flags;
    [FieldOffset(16)] public uint Chip;
    [FieldOffset(20)] public uint Pin;
    [FieldOffset(16)] public uint AddressLow;
    [FieldOffset(20)] public uint AddressHigh;
    [FieldOffset(24)] public uint Data;

    public const uint TypeIrqchip = 1, TypeMsi = 2;
    public const uint ChipPicMaster = 0, ChipPicSlave = 1, ChipIoapic = 2;
}
