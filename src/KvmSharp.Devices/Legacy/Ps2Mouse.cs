using KvmSharp.State;

namespace KvmSharp.Devices.Legacy;

/// <summary>
/// A standard PS/2 mouse (device ID 0x00) behind an i8042's auxiliary port: it answers the commands a
/// driver probes with (IBM PS/2 Technical Reference, "Pointing device"; Linux
/// drivers/input/mouse/psmouse-base.c) but never moves. Driven only by <see cref="I8042Controller"/>.
/// </summary>
internal sealed class Ps2Mouse
{
    private const byte Ack = 0xFA;
    private const byte Resend = 0xFE;
    private const byte SetResolution = 0xE8;
    private const byte SetSampleRate = 0xF3;

    private byte _pendingCommand;
    private byte _resolution = 2;   // 4 counts/mm
    private byte _sampleRate = 100;
    private bool _scaling2To1;
    private bool _reporting;
    private bool _remoteMode;

    /// <summary>Bytes the mouse has sent towards the controller, oldest first.</summary>
    public ByteRing Output { get; } = new(16);

    /// <summary>Takes one byte the guest sent to the mouse (via controller command 0xD4).</summary>
    public void Receive(byte value)
    {
        if (_pendingCommand != 0)
        {
            if (_pendingCommand == SetResolution) _resolution = (byte)(value & 0x03);
            else _sampleRate = value;
            _pendingCommand = 0;
            Output.TryEnqueue(Ack);
            return;
        }
        switch (value)
        {
            case SetResolution or SetSampleRate:
                _pendingCommand = value;
                Output.TryEnqueue(Ack);
                break;
            case 0xE6 or 0xE7: // scaling 1:1 / 2:1
                _scaling2To1 = value == 0xE7;
                Output.TryEnqueue(Ack);
                break;
            case 0xE9: // status request: mode/buttons, resolution, sample rate
                Output.TryEnqueue(Ack);
                Output.TryEnqueue((byte)((_remoteMode ? 0x40 : 0) | (_reporting ? 0x20 : 0) | (_scaling2To1 ? 0x10 : 0)));
                Output.TryEnqueue(_resolution);
                Output.TryEnqueue(_sampleRate);
                break;
            case 0xEA or 0xF0: // stream / remote mode
                _remoteMode = value == 0xF0;
                Output.TryEnqueue(Ack);
                break;
            case 0xEB: // read data: a packet with no movement and no buttons (bit 3 is always one)
                Output.TryEnqueue(Ack);
                Output.TryEnqueue(0x08);
                Output.TryEnqueue(0x00);
                Output.TryEnqueue(0x00);
                break;
            case 0xF2: // identify: a standard mouse
                Output.TryEnqueue(Ack);
                Output.TryEnqueue(0x00);
                break;
            case 0xF4 or 0xF5: // enable / disable data reporting
                _reporting = value == 0xF4;
                Output.TryEnqueue(Ack);
                break;
            case 0xEC or 0xEE or 0xF6 or Resend: // wrap mode is not modelled: accepted like the rest
                Output.TryEnqueue(Ack);
                break;
            case 0xFF: // reset: acknowledge, self-test passed, device ID
                Output.Clear();
                _reporting = false;
                _remoteMode = false;
                _scaling2To1 = false;
                _resolution = 2;
                _sampleRate = 100;
                Output.TryEnqueue(Ack);
                Output.TryEnqueue(0xAA);
                Output.TryEnqueue(0x00);
                break;
            default:
                Output.TryEnqueue(Resend);
                break;
        }
    }

    public Ps2MouseState SaveState() => new()
    {
        PendingCommand = _pendingCommand,
        Resolution = _resolution,
        SampleRate = _sampleRate,
        Scaling2To1 = _scaling2To1,
        Reporting = _reporting,
        RemoteMode = _remoteMode,
        Output = Output.ToArray(),
    };

    /// <summary>Checks <paramref name="state"/> without changing anything.</summary>
    public static void Check(Ps2MouseState? state, string field)
    {
        StateCheck.NotNull(state, field);
        StateCheck.That(state.PendingCommand is 0 or SetResolution or SetSampleRate, $"{field}.PendingCommand",
            $"0x{state.PendingCommand:x2} is not a mouse command that takes a parameter");
        StateCheck.InRange(state.Resolution, 0, 3, $"{field}.Resolution");
        StateCheck.LengthAtMost(state.Output, 16, $"{field}.Output");
    }

    /// <summary>Loads a state that passed <see cref="Check"/>.</summary>
    public void Load(Ps2MouseState state)
    {
        _pendingCommand = state.PendingCommand;
        _resolution = state.Resolution;
        _sampleRate = state.SampleRate;
        _scaling2To1 = state.Scaling2To1;
        _reporting = state.Reporting;
        _remoteMode = state.RemoteMode;
        Output.Load(state.Output);
    }
}
