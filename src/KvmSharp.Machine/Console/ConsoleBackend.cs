using KvmSharp.Devices.Legacy;

namespace KvmSharp.Machine.Console;

/// <summary>
/// The host end of the guest's serial console: takes what the UART transmits and pumps host input into
/// the UART's receive buffer on a thread of its own, never dropping a byte the UART has no room for yet.
/// </summary>
public abstract class ConsoleBackend : ISerialOutput, IDisposable
{
    private readonly Lock _lock = new();
    private Thread? _pump;
    private volatile IConsoleInput? _target;
    private volatile bool _held;
    private volatile bool _disposed;

    /// <summary>Writes guest output to the host side. Called under the UART's lock: must not block for long.</summary>
    public abstract void Write(ReadOnlySpan<byte> bytes);

    /// <summary>Waits up to <paramref name="timeoutMs"/> for input; returns bytes read, 0 if none yet, -1 when input has ended.</summary>
    protected abstract int ReadInput(Span<byte> buffer, int timeoutMs);

    /// <summary>Lets a backend interpret host-side keys (e.g. Ctrl-A x); returns how many bytes of <paramref name="input"/> go to the guest.</summary>
    protected virtual int FilterInput(Span<byte> input) => input.Length;

    /// <summary>
    /// Pumps input into <paramref name="serial"/> (a UART or a virtio console). Connecting again moves the
    /// input to the new device: one console serves a machine across reboots, where each boot has new devices.
    /// </summary>
    public void Connect(IConsoleInput serial)
    {
        _target = serial;
        lock (_lock)
        {
            if (_pump is not null) return;
            _pump = new Thread(Pump) { Name = "console-input", IsBackground = true };
            _pump.Start();
        }
    }

    /// <summary>
    /// While held, host input stays with the host (nothing reaches the guest's device): a paused machine's
    /// device state does not change under a snapshot. Output is not affected.
    /// </summary>
    public void HoldInput(bool held) => _held = held;

    private void Pump()
    {
        var buffer = new byte[256];
        while (!_disposed)
        {
            if (_held)
            {
                Thread.Sleep(10);
                continue;
            }
            int n = ReadInput(buffer, 100);
            if (n < 0) return;
            n = FilterInput(buffer.AsSpan(0, n));
            var pending = buffer.AsSpan(0, n);
            while (!pending.IsEmpty && !_disposed)
            {
                // Re-read the target each time: a reboot may have connected a new device meanwhile.
                int taken = _held || _target is not { } target ? 0 : target.EnqueueInput(pending);
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
