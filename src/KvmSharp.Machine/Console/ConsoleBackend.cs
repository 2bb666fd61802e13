using KvmSharp.Devices.Legacy;

namespace KvmSharp.Machine.Console;

/// <summary>
/// The host end of the guest's serial console: takes what the UART transmits and pumps host input into
/// the UART's receive buffer on a thread of its own, never dropping a byte the UART has no room for yet.
/// </summary>
public abstract class ConsoleBackend : ISerialOutput, IDisposable
{
    private Thread? _pump;
    private volatile bool _disposed;

    /// <summary>Writes guest output to the host side. Called under the UART's lock: must not block for long.</summary>
    public abstract void Write(ReadOnlySpan<byte> bytes);

    /// <summary>Waits up to <paramref name="timeoutMs"/> for input; returns bytes read, 0 if none yet, -1 when input has ended.</summary>
    protected abstract int ReadInput(Span<byte> buffer, int timeoutMs);

    /// <summary>Lets a backend interpret host-side keys (e.g. Ctrl-A x); returns how many bytes of <paramref name="input"/> go to the guest.</summary>
    protected virtual int FilterInput(Span<byte> input) => input.Length;

    /// <summary>Starts pumping input into <paramref name="serial"/> (a UART or a virtio console).</summary>
    public void Connect(IConsoleInput serial)
    {
        _pump = new Thread(() => Pump(serial)) { Name = "console-input", IsBackground = true };
        _pump.Start();
    }

    private void Pump(IConsoleInput serial)
    {
        var buffer = new byte[256];
        while (!_disposed)
        {
            int n = ReadInput(buffer, 100);
            if (n < 0) return;
            n = FilterInput(buffer.AsSpan(0, n));
            var pending = buffer.AsSpan(0, n);
            while (!pending.IsEmpty && !_disposed)
            {
                int taken = serial.EnqueueInput(pending);
                pending = pending[taken..];
                if (!pending.IsEmpty) Thread.Sleep(1);
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _pump?.Join(TimeSpan.FromSeconds(1));
        Release();
        GC.SuppressFinalize(this);
    }

    protected virtual void Release() { }
}
