using KvmSharp.State;

namespace KvmSharp.Devices.Legacy;

/// <summary>
/// The keyboard behind an i8042's first port: answers the PS/2 keyboard commands a driver sends
/// (IBM PS/2 Technical Reference, "Keyboard commands"; Linux drivers/input/keyboard/atkbd.c) and
/// queues scancodes the host injects. Driven only by <see cref="I8042Controller"/>, under its lock.
/// </summary>
internal sealed class Ps2Keyboard
{
    public const byte Ack = 0xFA;
    public const byte Resend = 0xFE;
    public const byte SelfTestPassed = 0xAA;
    private const byte Echo = 0xEE;

    // Commands that take a parameter byte.
    private const byte SetLeds = 0xED;
    private const byte ScanCodeSet = 0xF0;
    private const byte SetTypematic = 0xF3;

    // Ctrl, Alt, Delete pressed then released, in each scancode set (IBM PS/2 Tech. Ref. scan code tables).
    private static ReadOnlySpan<byte> CtrlAltDeleteSet1 => [0x1D, 0x38, 0xE0, 0x53, 0xE0, 0xD3, 0xB8, 0x9D];
    private static ReadOnlySpan<byte> CtrlAltDeleteSet2 => [0x14, 0x11, 0xE0, 0x71, 0xE0, 0xF0, 0x71, 0xF0, 0x11, 0xF0, 0x14];
    private static ReadOnlySpan<byte> CtrlAltDeleteSet3 => [0x11, 0x19, 0x64, 0xF0, 0x64, 0xF0, 0x19, 0xF0, 0x11];

    private byte _pendingCommand;
    private byte _scanCodeSet = 2;
    private bool _scanning = true;

    /// <summary>Bytes the keyboard has sent towards the controller, oldest first.</summary>
    public ByteRing Output { get; } = new(16);

    /// <summary>The LED state last set by command 0xED (bit 0 scroll, 1 num, 2 caps lock).</summary>
    public byte Leds { get; private set; }

    /// <summary>Takes one byte the host (guest driver) sent to the keyboard.</summary>
    /// <param name="translated">Whether the controller translates to set 1 (command byte bit 6); the identify reply depends on it.</param>
    public void Receive(byte value, bool translated)
    {
        if (_pendingCommand != 0)
        {
            ReceiveParameter(value);
            return;
        }
        switch (value)
        {
            case SetLeds or ScanCodeSet or SetTypematic:
                _pendingCommand = value;
                Output.TryEnqueue(Ack);
                break;
            case Echo:
                Output.TryEnqueue(Echo);
                break;
            case 0xF2: // identify: an MF2 keyboard, ID 0xAB 0x83; the controller's translation makes 0x83 read 0x41
                Output.TryEnqueue(Ack);
                Output.TryEnqueue(0xAB);
                Output.TryEnqueue(translated ? (byte)0x41 : (byte)0x83);
                break;
            case 0xF4: // enable scanning
                _scanning = true;
                Output.TryEnqueue(Ack);
                break;
            case 0xF5: // disable scanning and restore defaults
                _scanning = false;
                Output.TryEnqueue(Ack);
                break;
            case 0xF6: // restore defaults
            case >= 0xF7 and <= 0xFD: // set-3 key type commands: accepted, without effect
            case Resend:
                Output.TryEnqueue(Ack);
                break;
            case 0xFF: // reset: acknowledge, run the basic assurance test, start scanning
                Output.Clear();
                _scanning = true;
                _scanCodeSet = 2;
                Leds = 0;
                Output.TryEnqueue(Ack);
                Output.TryEnqueue(SelfTestPassed);
                break;
            default:
                Output.TryEnqueue(Resend);
                break;
        }
    }

    private void ReceiveParameter(byte value)
    {
        byte command = _pendingCommand;
        _pendingCommand = 0;
        switch (command)
        {
            case SetLeds:
                Leds = (byte)(value & 0x07);
                break;
            case ScanCodeSet when value == 0: // query the current set
                Output.TryEnqueue(Ack);
                Output.TryEnqueue(_scanCodeSet);
                return;
            case ScanCodeSet when value is >= 1 and <= 3:
                _scanCodeSet = value;
                break;
            case ScanCodeSet:
                Output.TryEnqueue(Resend);
                return;
        }
        Output.TryEnqueue(Ack);
    }

    /// <summary>
    /// Queues a Ctrl-Alt-Delete press and release, whole or not at all, in the scancode set the guest
    /// sees: set 1 when the controller translates, otherwise the keyboard's selected set. Dropped while
    /// the guest has scanning disabled, as a real keyboard would.
    /// </summary>
    public bool InjectCtrlAltDelete(bool translated)
    {
        if (!_scanning) return false;
        var codes = translated || _scanCodeSet == 1 ? CtrlAltDeleteSet1
            : _scanCodeSet == 2 ? CtrlAltDeleteSet2
            : CtrlAltDeleteSet3;
        if (Output.Free < codes.Length) return false;
        Output.Enqueue(codes);
        return true;
    }

    public Ps2KeyboardState SaveState() => new()
    {
        PendingCommand = _pendingCommand,
        ScanCodeSet = _scanCodeSet,
        Scanning = _scanning,
        Leds = Leds,
        Output = Output.ToArray(),
    };

    /// <summary>Checks <paramref name="state"/> without changing anything.</summary>
    public static void Check(Ps2KeyboardState? state, string field)
    {
        StateCheck.NotNull(state, field);
        StateCheck.That(state.PendingCommand is 0 or SetLeds or ScanCodeSet or SetTypematic, $"{field}.PendingCommand",
            $"0x{state.PendingCommand:x2} is not a keyboard command that takes a parameter");
        StateCheck.InRange(state.ScanCodeSet, 1, 3, $"{field}.ScanCodeSet");
        StateCheck.InRange(state.Leds, 0, 7, $"{field}.Leds");
        StateCheck.LengthAtMost(state.Output, 16, $"{field}.Output");
    }

    /// <summary>Loads a state that passed <see cref="Check"/>.</summary>
    public void Load(Ps2KeyboardState state)
    {
        _pendingCommand = state.PendingCommand;
        _scanCodeSet = state.ScanCodeSet;
        _scanning = state.Scanning;
        Leds = state.Leds;
        Output.Load(state.Output);
    }
}
