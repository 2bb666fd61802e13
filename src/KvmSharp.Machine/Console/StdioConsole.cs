using KvmSharp.Native.Libc;

namespace KvmSharp.Machine.Console;

/// <summary>
/// The console on the process's own stdin/stdout. On a terminal it switches to raw mode (so the guest
/// sees every key, Ctrl-C included) and restores the terminal when done; Ctrl-A x quits and Ctrl-A
/// Ctrl-A sends a literal Ctrl-A, as in QEMU.
/// </summary>
public sealed unsafe class StdioConsole : ConsoleBackend
{
    private const byte CtrlA = 0x01;
    private readonly Action _quit;
    private readonly bool _raw;
    private Termios _saved;
    private bool _escapePending;

    public StdioConsole(Action quit)
    {
        _quit = quit;
        if (LibcImports.IsATty(0) == 1)
        {
            Termios saved, raw;
            if (LibcImports.TcGetAttr(0, &saved) == 0)
            {
                _saved = saved;
                raw = saved;
                LibcImports.CfMakeRaw(&raw);
                // Keep output post-processing so the host terminal still turns \n into \r\n for our own messages.
                raw.OutputFlags = saved.OutputFlags;
                _raw = LibcImports.TcSetAttr(0, LibcConstants.TCSANOW, &raw) == 0;
            }
        }
    }

    public override void Write(ReadOnlySpan<byte> bytes) => FdIo.WriteAll(1, bytes);

    protected override int ReadInput(Span<byte> buffer, int timeoutMs) => FdIo.Read(0, buffer, timeoutMs);

    protected override int FilterInput(Span<byte> input)
    {
        int kept = 0;
        foreach (byte b in input)
        {
            if (_escapePending)
            {
                _escapePending = false;
                if (b is (byte)'x' or (byte)'X') { _quit(); continue; }
                if (b != CtrlA) continue;
            }
            else if (b == CtrlA)
            {
                _escapePending = true;
                continue;
            }
            input[kept++] = b;
        }
        return kept;
    }

    protected override void Release()
    {
        if (!_raw) return;
        var saved = _saved;
        LibcImports.TcSetAttr(0, LibcConstants.TCSANOW, &saved);
    }
}
