using KvmSharp.Machine.Console;

namespace KvmSharp.Machine.Images;

/// <summary>
/// The console of an --exec run: the guest's COM1 output goes to stdout until the guest has reported
/// the command's status, and nothing after it (the kernel's "reboot: Power down" is printed at
/// emergency level, which no log level hides). /init reports the status only once the command's output
/// has left the UART, and both UARTs are written from the vCPU thread in order, so nothing of the
/// command's is cut. No input: the command reads /dev/null, and the terminal is left as it is.
/// </summary>
public sealed class ExecConsole(ExecStatusChannel status) : ConsoleBackend
{
    public override void Write(ReadOnlySpan<byte> bytes)
    {
        if (status.Status is null) FdIo.WriteAll(1, bytes);
    }

    protected override int ReadInput(Span<byte> buffer, int timeoutMs) => -1;
}
