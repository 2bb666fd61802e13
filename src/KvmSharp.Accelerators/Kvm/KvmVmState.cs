namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// A KVM VM's in-kernel devices and clock: the two 8259s and the IOAPIC (KVM_GET_IRQCHIP), the PIT
/// (KVM_GET_PIT2; null for a VM without one) and kvmclock (KVM_GET_CLOCK).
/// </summary>
public sealed record KvmVmState : VmState
{
    public int VcpuCount { get; init; }
    public InKernelPicState PicMaster { get; init; } = new();
    public InKernelPicState PicSlave { get; init; } = new();
    public InKernelIoApicState IoApic { get; init; } = new();
    public InKernelPitState? Pit { get; init; }

    /// <summary>Guest kvmclock nanoseconds when saved (or when time was paused): the restored VM continues from it.</summary>
    public ulong ClockNanoseconds { get; init; }
}

/// <summary>struct kvm_pic_state: one in-kernel 8259A.</summary>
public sealed record InKernelPicState
{
    public byte LastIrr { get; init; }
    public byte Irr { get; init; }
    public byte Imr { get; init; }
    public byte Isr { get; init; }
    public byte PriorityAdd { get; init; }
    public byte IrqBase { get; init; }
    public bool ReadRegisterSelect { get; init; }
    public bool Poll { get; init; }
    public bool SpecialMask { get; init; }

    /// <summary>0: operating; 1–3: expecting ICW2–ICW4.</summary>
    public byte InitState { get; init; }
    public bool AutoEoi { get; init; }
    public bool RotateOnAutoEoi { get; init; }
    public bool SpecialFullyNestedMode { get; init; }
    public bool Init4 { get; init; }
    public byte Elcr { get; init; }
    public byte ElcrMask { get; init; }
}

/// <summary>struct kvm_ioapic_state.</summary>
public sealed record InKernelIoApicState
{
    public ulong BaseAddress { get; init; }
    public uint RegisterSelect { get; init; }
    public uint Id { get; init; }
    public uint Irr { get; init; }

    /// <summary>The 24 redirection entries (82093AA §3.2.4 bit layout).</summary>
    public ulong[] RedirectionTable { get; init; } = [];
}

/// <summary>struct kvm_pit_state2.</summary>
public sealed record InKernelPitState
{
    public InKernelPitChannelState[] Channels { get; init; } = [];

    /// <summary>KVM_PIT_FLAGS_HPET_LEGACY, KVM_PIT_FLAGS_SPEAKER_DATA_ON.</summary>
    public uint Flags { get; init; }
}

/// <summary>struct kvm_pit_channel_state (KVM restarts the count from its load on KVM_SET_PIT2).</summary>
public sealed record InKernelPitChannelState
{
    public uint Count { get; init; }
    public ushort LatchedCount { get; init; }
    public byte CountLatched { get; init; }
    public bool StatusLatched { get; init; }
    public byte Status { get; init; }
    public byte ReadState { get; init; }
    public byte WriteState { get; init; }
    public byte WriteLatch { get; init; }
    public byte RwMode { get; init; }

    /// <summary>0–5, or 0xFF for a counter never programmed.</summary>
    public byte Mode { get; init; }
    public bool Bcd { get; init; }
    public bool Gate { get; init; }
    public long CountLoadTime { get; init; }
}
