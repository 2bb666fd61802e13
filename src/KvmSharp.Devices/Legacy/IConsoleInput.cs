namespace KvmSharp.Devices.Legacy;

/// <summary>
/// A device that takes host console input (a UART, a virtio console). Called from the console's input
/// pump thread: takes as many bytes as it has room for and returns that count; the pump offers the rest
/// again later, so no input is lost.
/// </summary>
public interface IConsoleInput
{
    int EnqueueInput(ReadOnlySpan<byte> bytes);
}
