using KvmSharp.Devices;
using KvmSharp.Devices.Bus;
using KvmSharp.Devices.Legacy;

namespace KvmSharp.Tests.Devices;

/// <summary>An interrupt line that records every level change a device drives.</summary>
internal sealed class RecordingInterruptLine : IInterruptLine
{
    public List<bool> Changes { get; } = [];
    public bool High { get; private set; }
    public int RisingEdges { get; private set; }

    public void SetLevel(bool high)
    {
        Assert.NotEqual(High, high);   // devices only call SetLevel on a change
        if (high) RisingEdges++;
        High = high;
        Changes.Add(high);
    }
}

internal sealed class RecordingSerialOutput : ISerialOutput
{
    public List<byte> Bytes { get; } = [];
    public void Write(ReadOnlySpan<byte> bytes) => Bytes.AddRange(bytes.ToArray());
}

internal sealed class RecordingMachineControl : IMachineControl
{
    public List<(StopRequest Request, int Status)> Requests { get; } = [];
    public void RequestStop(StopRequest request, int exitStatus) => Requests.Add((request, exitStatus));
}

/// <summary>Byte-wide port I/O on a device, the way a guest's inb/outb reach it.</summary>
internal static class PortIo
{
    public static byte In(this IBusDevice device, ulong offset)
    {
        Span<byte> b = stackalloc byte[1];
        device.Read(offset, b);
        return b[0];
    }

    public static void Out(this IBusDevice device, ulong offset, byte value) => device.Write(offset, [value]);
}
