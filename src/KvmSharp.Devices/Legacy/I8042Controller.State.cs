using KvmSharp.State;

namespace KvmSharp.Devices.Legacy;

/// <summary>Save and restore (<see cref="I8042State"/>), and pausing host injection.</summary>
public sealed partial class I8042Controller : IStateful<I8042State>
{
    public I8042State SaveState()
    {
        lock (_lock)
            return new I8042State
            {
                Ram = [.. _ram],
                OutputBuffer = _outputBuffer,
                OutputFull = _outputFull,
                OutputFromAux = _outputFromAux,
                PendingCommand = _pendingCommand,
                LastWriteWasCommand = _lastWriteWasCommand,
                OutputPort = _outputPort,
                ControllerOutput = _controllerOutput.ToArray(),
                Keyboard = _keyboard.SaveState(),
                Mouse = _mouse.SaveState(),
            };
    }

    /// <summary>Loads <paramref name="state"/> after checking all of it; IRQ 1 and 12 then follow the restored output buffer.</summary>
    public void RestoreState(I8042State state)
    {
        StateCheck.NotNull(state, "i8042");
        StateCheck.Length(state.Ram, _ram.Length, "i8042.Ram");
        StateCheck.That(state.PendingCommand is 0 or (>= 0x60 and <= 0x7F) or (>= 0xD1 and <= 0xD4), "i8042.PendingCommand",
            $"0x{state.PendingCommand:x2} is not a controller command that takes a data byte");
        var replies = StateCheck.LengthAtMost(state.ControllerOutput, _controllerOutput.Capacity, "i8042.ControllerOutput");
        StateCheck.That(replies.Length % 2 == 0, "i8042.ControllerOutput", "is not a list of (aux flag, value) pairs");
        for (int i = 0; i < replies.Length; i += 2)
            StateCheck.That(replies[i] <= 1, "i8042.ControllerOutput", $"aux flag {replies[i]} at {i} is not 0 or 1");
        Ps2Keyboard.Check(state.Keyboard, "i8042.Keyboard");
        Ps2Mouse.Check(state.Mouse, "i8042.Mouse");

        lock (_lock)
        {
            state.Ram.CopyTo(_ram, 0);
            _outputBuffer = state.OutputBuffer;
            _outputFull = state.OutputFull;
            _outputFromAux = state.OutputFromAux;
            _pendingCommand = state.PendingCommand;
            _lastWriteWasCommand = state.LastWriteWasCommand;
            _outputPort = state.OutputPort;
            _controllerOutput.Load(replies);
            _keyboard.Load(state.Keyboard);
            _mouse.Load(state.Mouse);
            if (!_paused) FillOutputBuffer();
            UpdateInterruptLines();
        }
    }

    /// <summary>Until <see cref="Resume"/>, a host injection (Ctrl-Alt-Delete) only queues in the keyboard.</summary>
    public void Pause()
    {
        lock (_lock) _paused = true;
    }

    public void Resume()
    {
        lock (_lock)
        {
            _paused = false;
            FillOutputBuffer();
            UpdateInterruptLines();
        }
    }
}
