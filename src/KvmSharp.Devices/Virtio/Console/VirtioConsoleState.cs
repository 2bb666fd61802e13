namespace KvmSharp.Devices.Virtio.Console;

/// <summary>
/// virtio-console's own saved state: host input not yet delivered into the guest's receive buffers, oldest first.
/// Guest output needs nothing: each transmit chain goes to the host as it is taken, so none is pending at a pause.
/// </summary>
public sealed record VirtioConsoleState
{
    public byte[] PendingInput { get; init; } = [];
}
