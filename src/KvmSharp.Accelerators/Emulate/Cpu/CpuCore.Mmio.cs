namespace KvmSharp.Accelerators.Emulate.Cpu;

// MMIO from the CPU's side: the access that stops the run (or the platform's own registers), with an exact count.
public sealed unsafe partial class CpuCore
{
    /// <summary>
    /// Makes <see cref="InstructionsRetired"/> exact in the middle of a block (an MMIO access: the LAPIC timer
    /// and the VMM may read the clock): the instructions before the one at RIP have retired.
    /// </summary>
    private void SyncRetired()
    {
        if (_running is not { } block) return;
        var instructions = block.Instructions;
        ulong rip = _cpu.Rip;
        for (int i = 0; i < instructions.Length; i++)
        {
            if (instructions[i].IP == rip)
            {
                _retired = _runningStart + (ulong)i;
                return;
            }
        }
    }


    ulong IMmioPort.Read(ulong physical, int size)
    {
        SyncRetired();
        if (PlatformIo is { } platform && platform.TryReadMmio(physical, size, out ulong owned)) return owned;
        if (_mmioReadReady && _mmioReadAddress == physical && _mmioReadSize == size)
        {
            _mmioReadReady = false;
            return _mmioReadValue;
        }
        _mmioReadReady = false;
        _mmioReadAddress = physical;
        _mmioReadSize = size;
        MmioAccess = (physical, size, 0);
        throw MmioReadPending.Instance;
    }

    void IMmioPort.Write(ulong physical, int size, ulong value)
    {
        SyncRetired();
        if (PlatformIo is { } platform && platform.TryWriteMmio(physical, size, value))
        {
            RequestEventCheck();   // an EOI, TPR, ICR or timer write: priorities or deadlines may have changed
            return;
        }
        _mmioWrites.Enqueue((physical, size, value));
    }
}
