namespace KvmSharp.Accelerators;

/// <summary>The general registers in hardware order (RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8–R15), RIP and RFLAGS.</summary>
public sealed record RegistersState
{
    public ulong[] Gpr { get; init; } = [];
    public ulong Rip { get; init; }
    public ulong Rflags { get; init; }
}

/// <summary>A segment register with its hidden descriptor cache (SDM vol 3 §3.4.3), the fields of struct kvm_segment.</summary>
public sealed record SegmentState
{
    public ushort Selector { get; init; }
    public ulong Base { get; init; }
    public uint Limit { get; init; }
    public byte Type { get; init; }
    public bool Present { get; init; }
    public byte Dpl { get; init; }
    public bool DefaultSize { get; init; }
    public bool System { get; init; }
    public bool Long { get; init; }
    public bool Granularity { get; init; }
    public bool Available { get; init; }
    public bool Unusable { get; init; }
}

/// <summary>GDTR or IDTR.</summary>
public sealed record DescriptorTableState
{
    public ulong Base { get; init; }
    public ushort Limit { get; init; }
}

/// <summary>
/// Segment, descriptor-table and control registers (the fields of struct kvm_sregs). <see cref="Segments"/> is in
/// hardware order: ES, CS, SS, DS, FS, GS.
/// </summary>
public sealed record SpecialRegistersState
{
    public SegmentState[] Segments { get; init; } = [];
    public SegmentState Ldt { get; init; } = new();
    public SegmentState Tr { get; init; } = new();
    public DescriptorTableState Gdt { get; init; } = new();
    public DescriptorTableState Idt { get; init; } = new();
    public ulong Cr0 { get; init; }
    public ulong Cr2 { get; init; }
    public ulong Cr3 { get; init; }
    public ulong Cr4 { get; init; }
    public ulong Cr8 { get; init; }
    public ulong Efer { get; init; }
    public ulong ApicBase { get; init; }

    /// <summary>KVM: the external interrupt injected but not yet taken, as a 256-bit set (at most one bit). Always empty on the software CPU.</summary>
    public ulong[] InterruptBitmap { get; init; } = new ulong[4];
}

/// <summary>One model-specific register.</summary>
public sealed record MsrValue
{
    public uint Index { get; init; }
    public ulong Value { get; init; }
}
