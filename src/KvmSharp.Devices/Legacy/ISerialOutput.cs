namespace KvmSharp.Devices.Legacy;

/// <summary>
/// Where a UART's transmitted bytes go (stdout, a pty, a socket, a test buffer). Called on a vCPU
/// thread with the UART's lock held, one call per transmitted byte: an implementation must not
/// block for long and must not call back into the UART.
/// </summary>
public interface ISerialOutput
{
    void Write(ReadOnlySpan<byte> bytes);
}
