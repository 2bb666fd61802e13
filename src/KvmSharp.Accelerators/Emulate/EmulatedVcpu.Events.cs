using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate;

// How a vCPU meets the platform: its APIC signals it, the core asks it for events, HLT and
// wait-for-SIPI sleep here (SDM vol 3 §8.4 for the start-up of application processors).
public sealed partial class EmulatedVcpu : IApicOwner, ICpuEvents, IInstructionCounter
{
    /// <summary>With host time, instructions between two looks at the clock (a few microseconds of guest work).</summary>
    private const ulong HostPollInstructions = 4096;

    /// <summary>With instruction-counted time, the longest run without a poll (another vCPU may have armed a timer).</summary>
    private const ulong MaxPollInstructions = 1 << 16;

    private readonly ManualResetEventSlim _wake = new(false, spinCount: 0);

    // 1 while this vCPU counts as waiting in the platform's idle accounting. A signal takes it out at
    // once, on the signalling thread, so instruction-counted time never jumps past an event that a
    // woken vCPU has not got round to taking yet.
    private int _waiting;

    void IApicOwner.Signal()
    {
        MarkRunnable();
        _core.RaiseAttention();
        _wake.Set();
    }

    private void MarkWaiting()
    {
        if (Interlocked.Exchange(ref _waiting, 1) == 0) _platform.Shared.EnterWait();
    }

    private void MarkRunnable()
    {
        if (Interlocked.Exchange(ref _waiting, 0) == 1) _platform.Shared.LeaveWait();
    }

    ulong ICpuEvents.PollTimers()
    {
        var shared = _platform.Shared;
        shared.PollTimers();
        if (shared.InstructionClock is not { } clock) return HostPollInstructions;
        long until = shared.NextDeadline - clock.Nanoseconds;
        return Math.Clamp(clock.InstructionsFor(until), 1, MaxPollInstructions);
    }

    bool ICpuEvents.UrgentPending => _platform.Apic.UrgentPending;

    bool ICpuEvents.MayHaveInterrupt => _platform.Apic.MayHaveInterrupt;

    CpuEvent ICpuEvents.Take(bool interruptible, bool nmiBlocked, out byte vector) => _platform.Apic.Take(interruptible, nmiBlocked, out vector);

    /// <summary>HLT: sleeps until an interrupt the CPU would take, NMI or INIT; false when a kick ended the wait.</summary>
    private bool WaitWhileHalted()
    {
        var shared = _platform.Shared;
        try
        {
            while (true)
            {
                _wake.Reset();
                MarkWaiting();
                if (_core.TakeKick()) return false;
                shared.PollTimers();
                if (_platform.Apic.CanWake(_cpu.Interruptible))
                {
                    _core.RequestEventCheck();
                    return true;
                }
                Sleep();
            }
        }
        finally
        {
            MarkRunnable();
        }
    }

    /// <summary>Wait-for-SIPI: the CPU is in its INIT state until a STARTUP IPI names where it starts; false on a kick.</summary>
    private bool WaitForStartup()
    {
        var shared = _platform.Shared;
        ResetForInit();
        try
        {
            while (true)
            {
                _wake.Reset();
                MarkWaiting();
                if (_core.TakeKick()) return false;
                if (_platform.Apic.TryTakeStartup(out byte vector))
                {
                    StartAt(vector);
                    return true;
                }
                shared.PollTimers();
                Sleep();
            }
        }
        finally
        {
            MarkRunnable();
        }
    }

    /// <summary>
    /// Sleeps until signalled or until the next deadline. With instruction-counted time there is nothing
    /// to wait for once every vCPU waits: the clock jumps to the deadline instead (idle time is free and
    /// the run stays reproducible).
    /// </summary>
    private void Sleep()
    {
        var shared = _platform.Shared;
        long deadline = shared.NextDeadline;
        if (shared.InstructionClock is { } clock)
        {
            if (deadline != long.MaxValue && shared.AllWaiting)
            {
                clock.AdvanceTo(deadline);
                shared.PollTimers();
                return;
            }
            // Another vCPU runs and moves the clock (its polls fire our timer and signal us); look again now and then.
            _wake.Wait(TimeSpan.FromMilliseconds(deadline == long.MaxValue && shared.AllWaiting ? 100 : 5));
            return;
        }
        if (deadline == long.MaxValue)
        {
            _wake.Wait();
            return;
        }
        long until = deadline - shared.Clock.Nanoseconds;
        if (until > 0) _wake.Wait(HostClock.HostDelay(until));
    }

    /// <summary>The INIT state (SDM vol 3 §9.1.1, table 9-1): as after RESET, keeping the APIC base, x87/SSE state and MSRs.</summary>
    private void ResetForInit()
    {
        ulong apicBase = _cpu.ApicBase;
        Array.Clear(_cpu.Gpr);
        _cpu.Rflags = Registers.FlagsReserved;
        (_cpu.Cr0, _cpu.Cr2, _cpu.Cr3, _cpu.Cr4, _cpu.Cr8, _cpu.Efer) = (0x6000_0010, 0, 0, 0, 0, 0);
        _cpu.NmiBlocked = false;
        ResetToRealMode();
        _cpu.ApicBase = apicBase;
        _core.Wake();
        _core.Mmu.FlushTlb();
    }

    /// <summary>After SIPI the CPU starts in real mode at CS = vector &lt;&lt; 8, IP = 0 (SDM vol 3 §8.4.4.1).</summary>
    private void StartAt(byte vector)
    {
        _cpu.Segments.Set(CpuState.Cs, new Segment { Selector = (ushort)(vector << 8), Base = (ulong)vector << 12, Limit = 0xFFFF, Type = 0xB, Present = 1, System = 1 });
        _cpu.Rip = 0;
        _core.Mmu.FlushTlb();
        _core.RequestEventCheck();
    }
}
