namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// A local APIC's registers and the events it holds for its vCPU (SDM vol 3 ch. 11). Times are guest nanoseconds
/// on the VM's clock, which a restore continues (<see cref="EmulatedVmState.GuestNanoseconds"/>).
/// </summary>
public sealed record LocalApicState
{
    /// <summary>IRR, ISR and TMR: 256 bits each, as eight 32-bit words (word i = vectors 32i..32i+31).</summary>
    public uint[] Irr { get; init; } = [];
    public uint[] Isr { get; init; } = [];
    public uint[] Tmr { get; init; } = [];

    /// <summary>LVT timer, thermal, performance, LINT0, LINT1, error.</summary>
    public uint[] Lvt { get; init; } = [];

    public uint Tpr { get; init; }
    public uint Ldr { get; init; }
    public uint Dfr { get; init; }
    public uint Svr { get; init; }
    public uint Esr { get; init; }

    /// <summary>Errors seen since the ESR was last written (latched into it by the next write).</summary>
    public uint PendingErrors { get; init; }

    public uint IcrLow { get; init; }
    public uint IcrHigh { get; init; }
    public bool NmiPending { get; init; }
    public bool InitPending { get; init; }

    /// <summary>The vCPU waits for a STARTUP IPI (after INIT, and application processors from power-on).</summary>
    public bool WaitingForStartup { get; init; }

    /// <summary>The vector of a SIPI received and not yet taken; -1 for none.</summary>
    public int StartupVector { get; init; } = -1;

    public ApicTimerState Timer { get; init; } = new();
}

/// <summary>The APIC timer (SDM vol 3 §11.5.4): mode, divider, counts and when it fires, in guest nanoseconds.</summary>
public sealed record ApicTimerState
{
    /// <summary>0 one-shot, 1 periodic, 2 TSC-deadline.</summary>
    public uint Mode { get; init; }
    public uint DivideConfiguration { get; init; }
    public uint InitialCount { get; init; }

    /// <summary>When the current count was loaded.</summary>
    public long Start { get; init; }

    /// <summary>Nanoseconds per period (initial count × divisor).</summary>
    public long Period { get; init; }

    /// <summary>When it fires next; <see cref="long.MaxValue"/> when disarmed.</summary>
    public long Deadline { get; init; } = long.MaxValue;

    /// <summary>IA32_TSC_DEADLINE as armed (0 once fired).</summary>
    public ulong TscDeadline { get; init; }
}
