namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>What the platform has for the CPU at an event check.</summary>
public enum CpuEvent : byte { None, Interrupt, Nmi, Init }

/// <summary>
/// The interrupt and timer side of the machine around one CPU (its local APIC, the platform's timers).
/// The core asks at block boundaries, and only while its attention flag is raised or a timer poll is due.
/// </summary>
public interface ICpuEvents
{
    /// <summary>Updates the platform's due timers; returns how many instructions may retire before the next poll.</summary>
    ulong PollTimers();

    /// <summary>NMI or INIT waits (a cheap read).</summary>
    bool UrgentPending { get; }

    /// <summary>An interrupt may be waiting for RFLAGS.IF (a cheap read).</summary>
    bool MayHaveInterrupt { get; }

    /// <summary>The event to take now: INIT, NMI unless <paramref name="nmiBlocked"/>, or with <paramref name="interruptible"/> an interrupt vector (acknowledged).</summary>
    CpuEvent Take(bool interruptible, bool nmiBlocked, out byte vector);
}
