namespace KvmSharp.Accelerators;

public enum VcpuExitReason
{
    /// <summary>The guest read from an I/O port: fill <see cref="VcpuExit.Data"/>.</summary>
    IoIn,
    /// <summary>The guest wrote <see cref="VcpuExit.Data"/> to an I/O port.</summary>
    IoOut,
    /// <summary>The guest read from MMIO outside RAM: fill <see cref="VcpuExit.Data"/>.</summary>
    MmioRead,
    /// <summary>The guest wrote <see cref="VcpuExit.Data"/> to MMIO outside RAM.</summary>
    MmioWrite,
    /// <summary>The guest executed HLT with interrupts it cannot take (only without an in-kernel LAPIC).</summary>
    Halt,
    /// <summary>Triple fault or a reset/shutdown request from the platform.</summary>
    Shutdown,
    /// <summary>The platform asked for a reset.</summary>
    Reset,
    /// <summary>The run was interrupted by <see cref="IVcpu.Kick"/> (or a signal); nothing happened in the guest.</summary>
    Kicked,
    /// <summary>The accelerator could not go on: <see cref="VcpuExit.Message"/> says why.</summary>
    Failed,
}

/// <summary>
/// Why <see cref="IVcpu.Run"/> returned. For I/O and MMIO, <see cref="Data"/> is the guest's bytes
/// (writes) or the bytes to give the guest (reads); it is a view into the vCPU's own exit area.
/// String port I/O (<c>rep outsb</c>) arrives as <see cref="Count"/> items of <see cref="Size"/> bytes.
/// </summary>
public readonly ref struct VcpuExit
{
    public VcpuExitReason Reason { get; init; }

    /// <summary>Port number or MMIO guest-physical address.</summary>
    public ulong Address { get; init; }

    /// <summary>Bytes per access (1, 2, 4 or 8).</summary>
    public int Size { get; init; }

    /// <summary>Number of port accesses (string I/O); 1 for MMIO.</summary>
    public int Count { get; init; }

    public Span<byte> Data { get; init; }

    /// <summary>For <see cref="VcpuExitReason.Failed"/>: one line that says what happened.</summary>
    public string? Message { get; init; }
}
