namespace KvmSharp.Machine.Console;

/// <summary>No console: output is discarded and there is no input.</summary>
public sealed class NullConsole : ConsoleBackend
{
    public override void Write(ReadOnlySpan<byte> bytes) { }

    protected override int ReadInput(Span<byte> buffer, int timeoutMs) => -1;
}
