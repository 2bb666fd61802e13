using System.Text;
using KvmSharp.Devices.Bus;

namespace KvmSharp.Tests.Firmware;

/// <summary>
/// QEMU's debugcon at port 0x402, where SeaBIOS writes its log: it answers a read with 0xE9, which is how SeaBIOS
/// knows the port is there. Tests attach it to see how far the firmware got.
/// </summary>
internal sealed class DebugConsolePort : IBusDevice
{
    public const ushort Port = 0x402;
    private readonly StringBuilder _log = new();

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    public void Read(ulong offset, Span<byte> data)
    {
        data.Clear();
        data[0] = 0xE9;
    }

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        lock (_log) foreach (byte b in data[..1]) _log.Append((char)b);
    }
}
