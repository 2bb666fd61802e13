using KvmSharp.State;
using static KvmSharp.Devices.Legacy.UartRegisters;

namespace KvmSharp.Devices.Legacy;

/// <summary>Save and restore (<see cref="Serial16550State"/>), and pausing host input.</summary>
public sealed partial class Serial16550 : IStateful<Serial16550State>
{
    public Serial16550State SaveState()
    {
        lock (_lock)
            return new Serial16550State
            {
                InterruptEnable = _ier,
                LineControl = _lcr,
                ModemControl = _mcr,
                ModemStatus = _msr,
                Scratch = _scr,
                LineErrors = _lineErrors,
                Divisor = _divisor,
                FifoEnabled = _fifoEnabled,
                TriggerLevel = _triggerLevel,
                TransmitEmptyPending = _transmitEmptyPending,
                LastReceived = _lastReceived,
                ReceiveFifo = _receiveFifo.ToArray(),
                HostInput = _hostInput.ToArray(),
            };
    }

    /// <summary>
    /// Loads <paramref name="state"/> after checking every field; then the IRQ line is driven to the level the
    /// restored registers call for (raised at once when an enabled interrupt is pending and OUT2 is set).
    /// </summary>
    public void RestoreState(Serial16550State state)
    {
        StateCheck.NotNull(state, "serial");
        StateCheck.That((state.InterruptEnable & ~IerMask) == 0, "serial.InterruptEnable", $"0x{state.InterruptEnable:x2} sets bits a 16550A does not have");
        StateCheck.That((state.ModemControl & ~McrMask) == 0, "serial.ModemControl", $"0x{state.ModemControl:x2} sets bits a 16550A does not have");
        StateCheck.That((state.LineErrors & ~LsrBreakAndErrors) == 0, "serial.LineErrors", $"0x{state.LineErrors:x2} is not a set of LSR error bits");
        StateCheck.That(state.TriggerLevel is 1 or 4 or 8 or 14, "serial.TriggerLevel", $"{state.TriggerLevel} is not 1, 4, 8 or 14");
        StateCheck.That((state.ModemStatus & 0xF0) == ModemLines(state.ModemControl), "serial.ModemStatus",
            $"line states 0x{state.ModemStatus & 0xF0:x2} do not follow from MCR 0x{state.ModemControl:x2}");
        StateCheck.LengthAtMost(state.ReceiveFifo, state.FifoEnabled ? ReceiveFifoSize : 1, "serial.ReceiveFifo");
        StateCheck.LengthAtMost(state.HostInput, HostInputBufferSize, "serial.HostInput");

        lock (_lock)
        {
            _ier = state.InterruptEnable;
            _lcr = state.LineControl;
            _mcr = state.ModemControl;
            _msr = state.ModemStatus;
            _scr = state.Scratch;
            _lineErrors = state.LineErrors;
            _divisor = state.Divisor;
            _fifoEnabled = state.FifoEnabled;
            _triggerLevel = state.TriggerLevel;
            _transmitEmptyPending = state.TransmitEmptyPending;
            _lastReceived = state.LastReceived;
            _receiveFifo.Load(state.ReceiveFifo);
            _hostInput.Load(state.HostInput);
            if (!_paused) PullHostInput();
            UpdateInterruptLine();
        }
    }

    /// <summary>From here until <see cref="Resume"/> host input only queues: no FIFO change, no IRQ edge.</summary>
    public void Pause()
    {
        lock (_lock) _paused = true;
    }

    public void Resume()
    {
        lock (_lock)
        {
            _paused = false;
            PullHostInput();
            UpdateInterruptLine();
        }
    }

}
