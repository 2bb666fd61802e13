using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate.Platform;

// Save and load (snapshots, migration): every register, the held NMI/INIT/SIPI and the timer.
public sealed partial class LocalApic : IStateful<LocalApicState>
{
    public LocalApicState SaveState()
    {
        lock (_platform.Lock)
            return new LocalApicState
            {
                Irr = [.. _irr], Isr = [.. _isr], Tmr = [.. _tmr], Lvt = [.. _lvt],
                Tpr = _tpr, Ldr = _ldr, Dfr = _dfr, Svr = _svr, Esr = _esr, PendingErrors = _pendingErrors,
                IcrLow = _icrLow, IcrHigh = _icrHigh, NmiPending = _nmiPending, InitPending = _initPending,
                WaitingForStartup = WaitingForStartup, StartupVector = _startupVector, Timer = Timer.SaveState(),
            };
    }

    public void RestoreState(LocalApicState state)
    {
        StateCheck.NotNull(state, "Apic");
        var irr = StateCheck.Length(state.Irr, 8, "Apic.Irr");
        var isr = StateCheck.Length(state.Isr, 8, "Apic.Isr");
        var tmr = StateCheck.Length(state.Tmr, 8, "Apic.Tmr");
        var lvt = StateCheck.Length(state.Lvt, _lvt.Length, "Apic.Lvt");
        // Vectors 0–15 are illegal and never requested (SDM vol 3 §11.5.3).
        StateCheck.That((irr[0] & 0xFFFF) == 0 && (isr[0] & 0xFFFF) == 0, "Apic.Irr", "holds a vector below 16");
        for (int i = 0; i < lvt.Length; i++)
            StateCheck.That((lvt[i] & ~0x7_A7FFu) == 0, $"Apic.Lvt[{i}]", $"0x{lvt[i]:x} sets bits no LVT entry has");
        StateCheck.AtMost(state.Tpr, 0xFF, "Apic.Tpr");
        StateCheck.That((state.Ldr & 0x00FF_FFFF) == 0, "Apic.Ldr", "sets bits below the logical id");
        StateCheck.That((state.Dfr & 0x0FFF_FFFF) == 0x0FFF_FFFF, "Apic.Dfr", "clears reserved bits that read as 1");
        StateCheck.AtMost(state.Svr, 0x1FF, "Apic.Svr");
        StateCheck.AtMost(state.Esr, 0xFF, "Apic.Esr");
        StateCheck.AtMost(state.PendingErrors, 0xFF, "Apic.PendingErrors");
        StateCheck.That((state.IcrLow & ~0x000C_CFFFu) == 0, "Apic.IcrLow", "sets bits the ICR does not keep");
        StateCheck.That((state.IcrHigh & 0x00FF_FFFF) == 0, "Apic.IcrHigh", "sets bits below the destination");
        StateCheck.InRange(state.StartupVector, -1, 255, "Apic.StartupVector");
        StateCheck.That(state.StartupVector < 0 || state.WaitingForStartup, "Apic.StartupVector", "is set while the CPU does not wait for SIPI");
        ApicTimer.CheckState(state.Timer);

        lock (_platform.Lock)
        {
            irr.CopyTo(_irr, 0);
            isr.CopyTo(_isr, 0);
            tmr.CopyTo(_tmr, 0);
            lvt.CopyTo(_lvt, 0);
            (_tpr, _ldr, _dfr, _svr, _esr, _pendingErrors) = (state.Tpr, state.Ldr, state.Dfr, state.Svr, state.Esr, state.PendingErrors);
            (_icrLow, _icrHigh) = (state.IcrLow, state.IcrHigh);
            _nmiPending = state.NmiPending;
            _initPending = state.InitPending;
            WaitingForStartup = state.WaitingForStartup;
            _startupVector = state.StartupVector;
            Timer.LoadState(state.Timer);
            _platform.DeadlinesChanged();
            Signal();   // whatever is held, the vCPU looks at it at its next block boundary
        }
    }
}
