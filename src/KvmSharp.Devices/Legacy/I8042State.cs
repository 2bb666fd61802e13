namespace KvmSharp.Devices.Legacy;

/// <summary>
/// An 8042's saved state: its RAM (byte 0 is the command byte), the output buffer and the replies queued
/// behind it, a command waiting for its data byte, the output port, and the two PS/2 devices behind it.
/// </summary>
public sealed record I8042State
{
    public byte[] Ram { get; init; } = [];
    public byte OutputBuffer { get; init; }
    public bool OutputFull { get; init; }
    public bool OutputFromAux { get; init; }

    /// <summary>A command (0x60-0x7F, 0xD1-0xD4) whose data byte the guest has not written yet; 0 for none.</summary>
    public byte PendingCommand { get; init; }

    public bool LastWriteWasCommand { get; init; }
    public byte OutputPort { get; init; }

    /// <summary>The controller's own replies not yet in the output buffer: (aux flag 0/1, value) pairs, oldest first.</summary>
    public byte[] ControllerOutput { get; init; } = [];

    public Ps2KeyboardState Keyboard { get; init; } = new();
    public Ps2MouseState Mouse { get; init; } = new();
}

/// <summary>The PS/2 keyboard's modes and the bytes it has queued towards the controller (oldest first).</summary>
public sealed record Ps2KeyboardState
{
    /// <summary>A command (0xED, 0xF0, 0xF3) waiting for its parameter byte; 0 for none.</summary>
    public byte PendingCommand { get; init; }

    public byte ScanCodeSet { get; init; } = 2;
    public bool Scanning { get; init; } = true;
    public byte Leds { get; init; }
    public byte[] Output { get; init; } = [];
}

/// <summary>The PS/2 mouse's modes and the bytes it has queued towards the controller (oldest first).</summary>
public sealed record Ps2MouseState
{
    /// <summary>A command (0xE8, 0xF3) waiting for its parameter byte; 0 for none.</summary>
    public byte PendingCommand { get; init; }

    public byte Resolution { get; init; } = 2;
    public byte SampleRate { get; init; } = 100;
    public bool Scaling2To1 { get; init; }
    public bool Reporting { get; init; }
    public bool RemoteMode { get; init; }
    public byte[] Output { get; init; } = [];
}
