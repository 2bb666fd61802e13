using System.Buffers.Binary;
using KvmSharp.Devices.Bus;

namespace KvmSharp.Devices.Legacy;

/// <summary>
/// QEMU's isa-debug-exit: a guest write of value v ends the run with process status (v &lt;&lt; 1) | 1,
/// so a test guest can report success or failure without an orderly shutdown. QEMU's default is
/// 1 byte at port 0x501; register it with <see cref="DefaultPortBase"/> and a size of 1, 2 or 4.
/// A write narrower than the port takes the bytes written; reads return all ones.
/// </summary>
public sealed class IsaDebugExit(IMachineControl machine) : IBusDevice
{
    public const ushort DefaultPortBase = 0x501;

    public void Read(ulong offset, Span<byte> data) => data.Fill(0xFF);

    public void Write(ulong offset, ReadOnlySpan<byte> data)
    {
        if (data.IsEmpty) return;
        Span<byte> value = stackalloc byte[4];
        value.Clear();
        data[..Math.Min(data.Length, 4)].CopyTo(value);
        uint v = BinaryPrimitives.ReadUInt32LittleEndian(value);
        // The exit status keeps all of (v << 1) | 1; the process can only return its low 8 bits.
        machine.RequestStop(StopRequest.DebugExit, unchecked((int)((v << 1) | 1)));
    }
}
