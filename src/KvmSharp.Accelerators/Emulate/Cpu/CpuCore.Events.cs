namespace KvmSharp.Accelerators.Emulate.Cpu;

// The block-boundary event check (kicks, timers, interrupts, INIT) and the delivery of faults and interrupts.
public sealed unsafe partial class CpuCore
{
    /// <summary>
    /// The event check at a block boundary: a kick ends the run; due timers are polled; INIT stops the
    /// core for the vCPU to reset it; NMI, or with IF set and no STI shadow the highest-priority
    /// interrupt, is delivered through the IDT as an external event (no DPL check, no error code; SDM
    /// vol 3 §6.8.1, §6.12.1.1).
    /// </summary>
    private CoreStop? ServiceEvents()
    {
        _attention = false;
        if (_kickRequested)
        {
            _kickRequested = false;
            return CoreStop.Kicked;
        }
        if (_events is not { } events)
        {
            _nextEventCheck = ulong.MaxValue;
            return null;
        }
        if (_retired >= _nextEventCheck) _nextEventCheck = _retired + events.PollTimers();
        bool interruptible = _cpu.Interruptible && _retired >= _shadowEnd;
        if (interruptible || events.UrgentPending)
        {
            switch (events.Take(interruptible, _cpu.NmiBlocked, out byte vector))
            {
                case CpuEvent.Init:
                    Halted = false;
                    return CoreStop.Init;
                case CpuEvent.Nmi:
                    Halted = false;
                    _cpu.NmiBlocked = true;
                    return Deliver(vector, _cpu.Rip, null, 0) ? null : CoreStop.Shutdown;
                case CpuEvent.Interrupt:
                    Halted = false;
                    return Deliver(vector, _cpu.Rip, null, 0) ? null : CoreStop.Shutdown;
            }
        }
        if (!interruptible && events.MayHaveInterrupt) _attention = true;   // look again once IF allows
        return null;
    }

    /// <summary>Moves the oldest queued MMIO write into <see cref="MmioAccess"/> for an exit.</summary>
    private bool TakeMmioWrite()
    {
        if (!_mmioWrites.TryDequeue(out var write)) return false;
        MmioAccess = write;
        return true;
    }

    private bool DeliverFault(CpuException fault) =>
        Deliver(fault.Vector, _cpu.Rip, ExceptionVector.HasErrorCode(fault.Vector) ? fault.ErrorCode : null, fault.FaultAddress);

    /// <summary>Delivers a fault; a fault while delivering one becomes #DF, and a fault during #DF shuts the CPU down (SDM §6.15, vector 8).</summary>
    private bool Deliver(byte vector, ulong returnRip, uint? errorCode, ulong faultAddress)
    {
        if (vector == ExceptionVector.PageFault) _cpu.Cr2 = faultAddress;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                Executor.DeliverInterrupt(vector, returnRip, errorCode, software: false);
                return true;
            }
            catch (CpuException nested)
            {
                if (vector == ExceptionVector.DoubleFault || attempt == 2) return false;
                if (nested.Vector == ExceptionVector.PageFault) _cpu.Cr2 = nested.FaultAddress;
                vector = ExceptionVector.DoubleFault;
                errorCode = 0;
            }
        }
        return false;
    }
}
