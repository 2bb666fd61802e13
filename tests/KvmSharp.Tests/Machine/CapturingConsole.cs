using System.Text;
using KvmSharp.Machine.Console;

namespace KvmSharp.Tests.Machine;

/// <summary>A console that records what the guest printed and can type into the guest.</summary>
internal sealed class CapturingConsole : ConsoleBackend
{
    private readonly Lock _lock = new();
    private readonly MemoryStream _output = new();
    private readonly Queue<byte> _input = new();

    public string Output
    {
        get { lock (_lock) return Encoding.ASCII.GetString(_output.ToArray()); }
    }

    public void Type(string text)
    {
        lock (_lock) foreach (byte b in Encoding.ASCII.GetBytes(text)) _input.Enqueue(b);
    }

    public override void Write(ReadOnlySpan<byte> bytes)
    {
        lock (_lock) _output.Write(bytes);
    }

    protected override int ReadInput(Span<byte> buffer, int timeoutMs)
    {
        lock (_lock)
        {
            int n = 0;
            while (n < buffer.Length && _input.TryDequeue(out byte b)) buffer[n++] = b;
            if (n > 0) return n;
        }
        Thread.Sleep(Math.Min(timeoutMs, 10));
        return 0;
    }
}
