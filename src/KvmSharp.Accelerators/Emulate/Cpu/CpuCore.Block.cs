using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Running one decoded block in the interpreter, and leaving it: exact counts, the flags a restarted instruction needs.
public sealed unsafe partial class CpuCore
{
    /// <summary>
    /// Runs one block until it ends, branches away or something needs the run loop; null means go on
    /// with the block at RIP. One exception handler per block keeps the per-instruction path short.
    /// </summary>
    /// <remarks>
    /// <paramref name="first"/>: the instruction to start at (translated code ran those before it, and counted none of
    /// them: the count is still the block's start). <paramref name="end"/>: stop before this one (--jit verify).
    /// </remarks>
    private CoreStop? ExecuteBlock(DecodedBlock block, int first = 0, int end = int.MaxValue)
    {
        var instructions = block.Instructions;
        var ops = block.Ops;
        ulong start = _retired;
        _running = block;
        _runningStart = start;
        int n = first;
        int stopAt = Math.Min(end, ops.Length);
        try
        {
            for (; n < stopAt; n++)
            {
                ref readonly var op = ref ops[n];
                if (op.Kind != MicroKind.Generic)
                {
                    // Fast forms continue at the next instruction unless they branch (a branch ends its
                    // block); only one that wrote memory can need the run loop. They do not count one by
                    // one: nothing they do reads the count except MMIO (see SyncRetired).
                    if (op.SavesFlags) _flagsBefore.CopyFrom(in _cpu.Flags);
                    Executor.StepFast(in op);
                    if (op.AccessesMemory && (_mmioWrites.Count != 0 || _blocks.HasStalePages))
                    {
                        _retired = start + (ulong)n + 1;
                        if (EndsBlockAfterWrite(block, out var stopAfterStore)) return Leave(stopAfterStore);
                    }
                    continue;
                }
                // The flags as they were before the instruction: a fault or an MMIO read restarts it, and an
                // instruction that recorded flags before its memory write faulted must not see its own.
                // Copied field by field: a whole-struct copy of just-written fields stalls store forwarding.
                _flagsBefore.CopyFrom(in _cpu.Flags);
                ref readonly var instruction = ref instructions[n];
                if (instruction.IsInvalid) throw CpuException.InvalidOpcode();
                _retired = start + (ulong)n;   // exact for what the instruction reads (RDTSC under --icount)
                var result = Executor.Step(in instruction);
                _retired = start + (ulong)n + 1;
                if (result != StepResult.Continue)
                {
                    _running = null;
                    if (TakeMmioWrite()) return CoreStop.MmioWrite;
                    if (result == StepResult.PortIo) return CoreStop.PortIo;
                    if (result == StepResult.Halt)
                    {
                        Halted = true;
                        return CoreStop.Halt;
                    }
                    // EndBlock; after STI (that set IF), MOV SS or POP SS, interrupts wait one more instruction.
                    if (Executor.TakeInterruptShadow()) _shadowEnd = _retired + 1;
                    return null;
                }
                if ((_mmioWrites.Count != 0 || _blocks.HasStalePages) && EndsBlockAfterWrite(block, out var stop)) return Leave(stop);
                if (n + 1 == ops.Length || _cpu.Rip != instructions[n + 1].IP) return Leave(null);
            }
            _retired = start + (ulong)n;
            _running = null;
            return null;
        }
        catch (CpuException fault)
        {
            Abandon(start, n);
            if (ops[n].Kind == MicroKind.Generic || ops[n].SavesFlags) _cpu.Flags.CopyFrom(in _flagsBefore);
            return DeliverFault(fault) ? null : CoreStop.Shutdown;
        }
        catch (SoftwareInterrupt interrupt)
        {
            Abandon(start, n);
            try
            {
                Executor.DeliverInterrupt(interrupt.Vector, interrupt.ReturnRip, null, software: true);
                return null;
            }
            catch (CpuException fault)
            {
                return DeliverFault(fault) ? null : CoreStop.Shutdown;
            }
        }
        catch (LockedWriteConflict)
        {
            Abandon(start, n);
            _cpu.Flags.CopyFrom(in _flagsBefore);   // another vCPU stored in between: run the locked instruction again
            return null;
        }
        catch (MmioReadPending)
        {
            Abandon(start, n);
            if (ops[n].Kind == MicroKind.Generic || ops[n].SavesFlags) _cpu.Flags.CopyFrom(in _flagsBefore);
            return CoreStop.MmioRead;   // RIP still names the instruction: it runs again with the value
        }
    }


    /// <summary>Leaves a block whose count is already exact.</summary>
    private CoreStop? Leave(CoreStop? stop)
    {
        _running = null;
        return stop;
    }

    /// <summary>Leaves a block at instruction <paramref name="n"/>, which did not retire (a fault, an interrupt instruction, a retry).</summary>
    private void Abandon(ulong start, int n)
    {
        _retired = start + (ulong)n;
        _running = null;
    }

    /// <summary>
    /// After an instruction that wrote memory: an MMIO write leaves as an exit, and a write to a page with
    /// decoded code drops its blocks (this one too, perhaps: then the block ends and RIP is fetched anew).
    /// </summary>
    private bool EndsBlockAfterWrite(DecodedBlock block, out CoreStop? stop)
    {
        stop = null;
        if (TakeMmioWrite())
        {
            stop = CoreStop.MmioWrite;
            return true;
        }
        if (_blocks.HasStalePages) _blocks.ApplyInvalidations();
        return !block.Valid;
    }
}
