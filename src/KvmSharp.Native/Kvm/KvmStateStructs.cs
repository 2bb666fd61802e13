using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace KvmSharp.Native.Kvm;

// The structures KVM saves and loads a VM's state through (Documentation/virt/kvm/api.rst §4: KVM_GET_LAPIC,
// KVM_GET_VCPU_EVENTS, KVM_GET_XSAVE, KVM_GET_XCRS, KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_CLOCK, KVM_GET_DIRTY_LOG),
// as in arch/x86/include/uapi/asm/kvm.h and linux/kvm.h. Sizes and offsets are checked against the host's headers.

/// <summary>struct kvm_lapic_state: the local APIC's 1 KiB register page as the xAPIC lays it out (SDM vol 3 table 11-1).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmLapicState
{
    public const int Size = 1024;

    public fixed byte Registers[Size];
}

/// <summary>struct kvm_vcpu_events: what is pending or in flight besides the registers (exception, interrupt, NMI, SIPI, SMM).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public unsafe struct KvmVcpuEvents
{
    [FieldOffset(0)] public byte ExceptionInjected;
    [FieldOffset(1)] public byte ExceptionNumber;
    [FieldOffset(2)] public byte ExceptionHasErrorCode;
    [FieldOffset(3)] public byte ExceptionPending;
    [FieldOffset(4)] public uint ExceptionErrorCode;
    [FieldOffset(8)] public byte InterruptInjected;
    [FieldOffset(9)] public byte InterruptNumber;
    [FieldOffset(10)] public byte InterruptSoft;
    [FieldOffset(11)] public byte InterruptShadow;
    [FieldOffset(12)] public byte NmiInjected;
    [FieldOffset(13)] public byte NmiPending;
    [FieldOffset(14)] public byte NmiMasked;
    [FieldOffset(16)] public uint SipiVector;
    [FieldOffset(20)] public uint Flags;
    [FieldOffset(24)] public byte SmiSmm;
    [FieldOffset(25)] public byte SmiPending;
    [FieldOffset(26)] public byte SmiInsideNmi;
    [FieldOffset(27)] public byte SmiLatchedInit;
    [FieldOffset(28)] public byte TripleFaultPending;
    [FieldOffset(55)] public byte ExceptionHasPayload;
    [FieldOffset(56)] public ulong ExceptionPayload;

    // KVM_VCPUEVENT_VALID_*: which optional fields KVM_SET_VCPU_EVENTS applies.
    public const uint ValidNmiPending = 0x01, ValidSipiVector = 0x02, ValidShadow = 0x04, ValidSmm = 0x08,
        ValidPayload = 0x10, ValidTripleFault = 0x20;
    public const uint KnownFlags = 0x3F;
}

/// <summary>struct kvm_xsave: the XSAVE area in the host's standard format; KVM_GET_XSAVE2 may use more than 4096 bytes.</summary>
public static class KvmXsave
{
    public const int MinimumSize = 4096;
}

/// <summary>struct kvm_xcr.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmXcr
{
    public uint Xcr;
    public uint Reserved;
    public ulong Value;
}

/// <summary>struct kvm_xcrs: the extended control registers (XCR0).</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmXcrs
{
    public const int MaxXcrs = 16;

    public uint Count;
    public uint Flags;
    public KvmXcrArray Xcrs;
    public fixed ulong Padding[16];
}

[InlineArray(KvmXcrs.MaxXcrs)]
public struct KvmXcrArray
{
    private KvmXcr _element;
}

/// <summary>struct kvm_pic_state: one in-kernel 8259A.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmPicState
{
    public byte LastIrr;
    public byte Irr;
    public byte Imr;
    public byte Isr;
    public byte PriorityAdd;
    public byte IrqBase;
    public byte ReadRegisterSelect;
    public byte Poll;
    public byte SpecialMask;
    public byte InitState;
    public byte AutoEoi;
    public byte RotateOnAutoEoi;
    public byte SpecialFullyNestedMode;
    public byte Init4;
    public byte Elcr;
    public byte ElcrMask;
}

/// <summary>struct kvm_ioapic_state: the in-kernel IOAPIC with its 24 redirection entries (82093AA §3.2.4 bit layout).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmIoapicState
{
    public const int PinCount = 24;

    public ulong BaseAddress;
    public uint RegisterSelect;
    public uint Id;
    public uint Irr;
    public uint Pad;
    public KvmRedirectionTable RedirectionTable;
}

[InlineArray(KvmIoapicState.PinCount)]
public struct KvmRedirectionTable
{
    private ulong _element;
}

/// <summary>struct kvm_irqchip: one of the in-kernel interrupt controllers, chosen by <see cref="ChipId"/> (KVM_IRQCHIP_*).</summary>
[StructLayout(LayoutKind.Explicit, Size = 520)]
public struct KvmIrqchip
{
    [FieldOffset(0)] public uint ChipId;
    [FieldOffset(4)] public uint Pad;
    [FieldOffset(8)] public KvmPicState Pic;
    [FieldOffset(8)] public KvmIoapicState Ioapic;

    public const uint PicMaster = 0, PicSlave = 1, Ioapic0 = 2;
}

/// <summary>struct kvm_pit_channel_state: one counter of the in-kernel 8254.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmPitChannelState
{
    public uint Count;
    public ushort LatchedCount;
    public byte CountLatched;
    public byte StatusLatched;
    public byte Status;
    public byte ReadState;
    public byte WriteState;
    public byte WriteLatch;
    public byte RwMode;
    public byte Mode;
    public byte Bcd;
    public byte Gate;
    /// <summary>The host's ktime (ns) when the count was loaded; KVM rebases it on KVM_SET_PIT2.</summary>
    public long CountLoadTime;
}

/// <summary>struct kvm_pit_state2: the in-kernel 8254's three counters and its flags.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmPitState2
{
    public KvmPitChannels Channels;
    public uint Flags;
    public fixed uint Reserved[9];

    /// <summary>KVM_PIT_FLAGS_HPET_LEGACY and KVM_PIT_FLAGS_SPEAKER_DATA_ON.</summary>
    public const uint KnownFlags = 0x3;
}

[InlineArray(3)]
public struct KvmPitChannels
{
    private KvmPitChannelState _element;
}

/// <summary>struct kvm_clock_data: the VM's kvmclock (guest nanoseconds) and, where KVM gives them, the host times it was read at.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct KvmClockData
{
    public ulong Clock;
    public uint Flags;
    public uint Pad0;
    public ulong Realtime;
    public ulong HostTsc;
    public fixed uint Pad[4];

    // KVM_CLOCK_*: what the kernel filled in (and, for KVM_SET_CLOCK, which fields it should use).
    public const uint TscStable = 2, RealtimeValid = 1 << 2, HostTscValid = 1 << 3;
}

/// <summary>struct kvm_dirty_log: the slot and where KVM writes its bitmap (one bit per page, in 64-bit words).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct KvmDirtyLog
{
    public uint Slot;
    public uint Padding;
    public ulong Bitmap;
}

/// <summary>KVM_MEM_* flags of struct kvm_userspace_memory_region.</summary>
public static class KvmMemoryFlags
{
    /// <summary>KVM_MEM_LOG_DIRTY_PAGES: KVM records the pages the guest writes, for KVM_GET_DIRTY_LOG.</summary>
    public const uint LogDirtyPages = 1;
    /// <summary>KVM_MEM_READONLY: guest writes exit to user space as MMIO (api.rst, KVM_CAP_READONLY_MEM).</summary>
    public const uint ReadOnly = 2;
}
