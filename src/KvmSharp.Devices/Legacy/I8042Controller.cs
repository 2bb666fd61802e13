using KvmSharp.Devices.Bus;

namespace KvmSharp.Devices.Legacy;

/// <summary>
/// The PC's 8042 keyboard controller (Intel 8042 / IBM PS/2 Technical Reference "Keyboard/Auxiliary
/// Device Controller") with a keyboard on its first port and a motionless mouse on the auxiliary port:
/// enough for Linux's i8042, atkbd and psmouse drivers to probe and run, for the reset line
/// (command 0xFE, the default x86 reboot path) and for a host-injected Ctrl-Alt-Delete.
/// The controller decodes two ports that are not adjacent (0x61-0x63 belong to the PIT and system
/// control), so it exposes two bus devices: register <see cref="DataPort"/> at 0x60 and
/// <see cref="CommandPort"/> at 0x64, each with length 1.
/// </summary>
public sealed partial class I8042Controller : IPausable
{
    public const ushort DataPortAddress = 0x60;
    public const ushort CommandPortAddress = 0x64;
    public const byte KeyboardIrq = 1;
    public const byte AuxIrq = 12;

    // Status register (read at 0x64).
    private const byte StatusOutputFull = 0x01;
    private const byte StatusSystemFlag = 0x04;
    private const byte StatusLastWriteWasCommand = 0x08;
    private const byte StatusNotInhibited = 0x10;
    private const byte StatusAuxData = 0x20;

    // Controller command byte (RAM byte 0).
    private const byte CommandByteKeyboardInterrupt = 0x01;
    private const byte CommandByteAuxInterrupt = 0x02;
    private const byte CommandByteSystemFlag = 0x04;
    private const byte CommandByteKeyboardDisabled = 0x10;
    private const byte CommandByteAuxDisabled = 0x20;
    private const byte CommandByteTranslate = 0x40;

    // Output port (command 0xD0/0xD1): bit 0 is the CPU reset line (active low), bit 1 the A20 gate.
    private const byte OutputPortResetInactive = 0x01;
    private const byte OutputPortA20 = 0x02;

    private readonly Lock _lock = new();
    private readonly IInterruptLine _keyboardIrq;
    private readonly IInterruptLine _auxIrq;
    private readonly IMachineControl _machine;
    private readonly Ps2Keyboard _keyboard = new();
    private readonly Ps2Mouse _mouse = new();
    private readonly ByteRing _controllerOutput = new(16);   // (aux flag, value) pairs the controller itself sends
    private readonly byte[] _ram = new byte[32];             // byte 0 is the command byte

    private byte _outputBuffer;
    private bool _outputFull;
    private bool _outputFromAux;
    private byte _pendingCommand;       // a command waiting for its data byte at port 0x60
    private bool _lastWriteWasCommand;
    private byte _outputPort = OutputPortResetInactive | OutputPortA20;
    private bool _keyboardIrqHigh;
    private bool _auxIrqHigh;
    private bool _paused;               // host injections queue in the keyboard; the output buffer and IRQs keep still

    public I8042Controller(IInterruptLine keyboardIrq, IInterruptLine auxIrq, IMachineControl machine)
    {
        _keyboardIrq = keyboardIrq;
        _auxIrq = auxIrq;
        _machine = machine;
        // As firmware leaves it: keyboard interrupt on, POST passed, set-1 translation, mouse off.
        _ram[0] = CommandByteKeyboardInterrupt | CommandByteSystemFlag | CommandByteAuxDisabled | CommandByteTranslate;
        DataPort = new Port(this, isCommandPort: false);
        CommandPort = new Port(this, isCommandPort: true);
    }

    /// <summary>Port 0x60: output buffer (read), data for the keyboard or a pending command (write).</summary>
    public IBusDevice DataPort { get; }

    /// <summary>Port 0x64: status register (read), controller command (write).</summary>
    public IBusDevice CommandPort { get; }

    private byte CommandByte => _ram[0];
    private bool Translating => (CommandByte & CommandByteTranslate) != 0;

    /// <summary>
    /// Host side: presses and releases Ctrl-Alt-Delete on the keyboard, which asks a guest to reboot
    /// gracefully. False if the guest has disabled the keyboard's scanning or its queue is full.
    /// </summary>
    public bool InjectCtrlAltDelete()
    {
        lock (_lock)
        {
            bool queued = _keyboard.InjectCtrlAltDelete(Translating);
            if (_paused) return queued;   // taken up by Resume
            FillOutputBuffer();
            UpdateInterruptLines();
            return queued;
        }
    }

    private byte ReadStatus()
    {
        byte status = StatusNotInhibited;
        if (_outputFull) status |= StatusOutputFull;
        if (_outputFull && _outputFromAux) status |= StatusAuxData;
        if ((CommandByte & CommandByteSystemFlag) != 0) status |= StatusSystemFlag;
        if (_lastWriteWasCommand) status |= StatusLastWriteWasCommand;
        return status;
    }

    private byte ReadData()
    {
        byte value = _outputBuffer;
        _outputFull = false;
        // Lower the line before the next byte moves in, so an edge-triggered IRQ sees a new edge.
        UpdateInterruptLines();
        FillOutputBuffer();
        return value;
    }

    private void WriteCommand(byte command)
    {
        _lastWriteWasCommand = true;
        _pendingCommand = 0;
        switch (command)
        {
            case >= 0x20 and <= 0x3F: Respond(_ram[command & 0x1F]); break;   // read RAM (0x20: command byte)
            case >= 0x60 and <= 0x7F:                                           // write RAM: data byte follows
            case 0xD1 or 0xD2 or 0xD3 or 0xD4:                                  // write output port / kbd buffer / aux buffer / aux device
                _pendingCommand = command;
                break;
            case 0xA7: _ram[0] |= CommandByteAuxDisabled; break;
            case 0xA8: _ram[0] &= unchecked((byte)~CommandByteAuxDisabled); break;
            case 0xA9: Respond(0x00); break;                                    // aux interface test: no error
            case 0xAA:                                                          // controller self test
                _ram[0] |= CommandByteSystemFlag;
                Respond(0x55);
                break;
            case 0xAB: Respond(0x00); break;                                    // keyboard interface test: no error
            case 0xAD: _ram[0] |= CommandByteKeyboardDisabled; break;
            case 0xAE: _ram[0] &= unchecked((byte)~CommandByteKeyboardDisabled); break;
            case 0xD0: Respond(_outputPort); break;
            case 0xDD: _outputPort &= unchecked((byte)~OutputPortA20); break;   // A20 is not masked on this machine
            case 0xDF: _outputPort |= OutputPortA20; break;
            case >= 0xF0:                                                       // pulse output port bits 0-3 (0 = pulse)
                if ((command & OutputPortResetInactive) == 0) _machine.RequestStop(StopRequest.Reset, 0);
                break;
            // Anything else is a vendor or unused command: ignored, as many real controllers do.
        }
    }

    private void WriteData(byte value)
    {
        _lastWriteWasCommand = false;
        byte command = _pendingCommand;
        _pendingCommand = 0;
        switch (command)
        {
            case 0:
                _keyboard.Receive(value, Translating);
                break;
            case >= 0x60 and <= 0x7F:
                _ram[command & 0x1F] = value;
                break;
            case 0xD1:
                _outputPort = value;
                if ((value & OutputPortResetInactive) == 0) _machine.RequestStop(StopRequest.Reset, 0);
                break;
            case 0xD2:
                Respond(value);
                break;
            case 0xD3:
                Respond(value, fromAux: true);   // Linux's aux loopback test checks the AUX status bit
                break;
            case 0xD4:
                _mouse.Receive(value);
                break;
        }
    }

    private void Respond(byte value, bool fromAux = false)
    {
        if (_controllerOutput.Free < 2) return;   // the guest is not reading; drop like an overrun
        _controllerOutput.TryEnqueue(fromAux ? (byte)1 : (byte)0);
        _controllerOutput.TryEnqueue(value);
    }

    /// <summary>Moves the next byte into the empty output buffer: controller replies first, then keyboard, then mouse, each only while its interface is enabled.</summary>
    private void FillOutputBuffer()
    {
        if (_outputFull) return;
        if (_controllerOutput.TryDequeue(out byte aux) && _controllerOutput.TryDequeue(out byte value))
            Load(value, aux != 0);
        else if ((CommandByte & CommandByteKeyboardDisabled) == 0 && _keyboard.Output.TryDequeue(out value))
            Load(value, fromAux: false);
        else if ((CommandByte & CommandByteAuxDisabled) == 0 && _mouse.Output.TryDequeue(out value))
            Load(value, fromAux: true);
    }

    private void Load(byte value, bool fromAux)
    {
        _outputBuffer = value;
        _outputFromAux = fromAux;
        _outputFull = true;
    }

    /// <summary>IRQ 1 / IRQ 12 are high while the output buffer holds keyboard / aux data and the command byte enables that interrupt.</summary>
    private void UpdateInterruptLines()
    {
        bool keyboard = _outputFull && !_outputFromAux && (CommandByte & CommandByteKeyboardInterrupt) != 0;
        bool aux = _outputFull && _outputFromAux && (CommandByte & CommandByteAuxInterrupt) != 0;
        if (keyboard != _keyboardIrqHigh)
        {
            _keyboardIrqHigh = keyboard;
            _keyboardIrq.SetLevel(keyboard);
        }
        if (aux != _auxIrqHigh)
        {
            _auxIrqHigh = aux;
            _auxIrq.SetLevel(aux);
        }
    }

    /// <summary>One of the controller's two ports on the bus. Accesses are one byte wide (the bus refuses wider ones on a 1-port range).</summary>
    private sealed class Port(I8042Controller controller, bool isCommandPort) : IBusDevice
    {
        public void Read(ulong offset, Span<byte> data)
        {
            data.Fill(0xFF);
            if (offset != 0 || data.IsEmpty) return;
            lock (controller._lock)
            {
                data[0] = isCommandPort ? controller.ReadStatus() : controller.ReadData();
                controller.FillOutputBuffer();
                controller.UpdateInterruptLines();
            }
        }

        public void Write(ulong offset, ReadOnlySpan<byte> data)
        {
            if (offset != 0 || data.IsEmpty) return;
            lock (controller._lock)
            {
                if (isCommandPort) controller.WriteCommand(data[0]);
                else controller.WriteData(data[0]);
                controller.FillOutputBuffer();
                controller.UpdateInterruptLines();
            }
        }
    }
}
