namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// A KVM vCPU's state as KVM hands it out (Documentation/virt/kvm/api.rst): registers, the XSAVE area (or the
/// legacy FPU image on hosts without XSAVE), XCRs, every MSR this host's KVM can save, the local APIC page,
/// pending events, the multiprocessing state and the TSC frequency. CPUID is not saved: it is our model's,
/// set again when the vCPU is created.
/// </summary>
public sealed record KvmVcpuState : VcpuState
{
    public RegistersState Registers { get; init; } = new();
    public SpecialRegistersState Special { get; init; } = new();

    /// <summary>struct kvm_xsave (KVM_GET_XSAVE2 size, at least 4096 bytes; host XSAVE layout); null where KVM has no XSAVE.</summary>
    public byte[]? Xsave { get; init; }

    /// <summary>struct kvm_fpu (416 bytes), only where KVM has no XSAVE.</summary>
    public byte[]? Fpu { get; init; }

    /// <summary>XCR0 and any other extended control register KVM reports.</summary>
    public XcrValue[] Xcrs { get; init; } = [];

    /// <summary>The MSRs of KVM_GET_MSR_INDEX_LIST that this vCPU could read, IA32_TSC among them.</summary>
    public MsrValue[] Msrs { get; init; } = [];

    /// <summary>struct kvm_lapic_state: the 1 KiB xAPIC register page.</summary>
    public byte[] Lapic { get; init; } = [];

    public KvmVcpuEventsState Events { get; init; } = new();

    /// <summary>KVM_MP_STATE_*: 0 runnable, 1 uninitialized, 2 INIT received, 3 halted, 4 SIPI received.</summary>
    public uint MpState { get; init; }

    /// <summary>The guest TSC's frequency (KVM_GET_TSC_KHZ); 0 where KVM cannot tell.</summary>
    public uint TscKhz { get; init; }
}

/// <summary>One extended control register (struct kvm_xcr).</summary>
public sealed record XcrValue
{
    public uint Index { get; init; }
    public ulong Value { get; init; }
}

/// <summary>struct kvm_vcpu_events: the exception, interrupt, NMI, SIPI and SMM state between instructions.</summary>
public sealed record KvmVcpuEventsState
{
    public bool ExceptionInjected { get; init; }
    public byte ExceptionNumber { get; init; }
    public bool ExceptionHasErrorCode { get; init; }
    public bool ExceptionPending { get; init; }
    public uint ExceptionErrorCode { get; init; }
    public bool ExceptionHasPayload { get; init; }
    public ulong ExceptionPayload { get; init; }
    public bool InterruptInjected { get; init; }
    public byte InterruptNumber { get; init; }
    public bool InterruptSoft { get; init; }

    /// <summary>KVM_X86_SHADOW_INT_MOV_SS (1) and/or KVM_X86_SHADOW_INT_STI (2).</summary>
    public byte InterruptShadow { get; init; }
    public bool NmiInjected { get; init; }
    public bool NmiPending { get; init; }
    public bool NmiMasked { get; init; }
    public uint SipiVector { get; init; }

    /// <summary>KVM_VCPUEVENT_VALID_* as KVM_GET_VCPU_EVENTS reported them.</summary>
    public uint Flags { get; init; }
    public bool Smm { get; init; }
    public bool SmiPending { get; init; }
    public bool SmmInsideNmi { get; init; }
    public bool LatchedInit { get; init; }
    public bool TripleFaultPending { get; init; }
}
