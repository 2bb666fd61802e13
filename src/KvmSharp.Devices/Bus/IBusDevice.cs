namespace KvmSharp.Devices.Bus;

/// <summary>
/// A device that answers guest reads and writes in a port-I/O or MMIO range. Offsets are relative to
/// the start of the range the device was registered at. Called from vCPU threads: a device that keeps
/// state guards it itself, and neither method may allocate.
/// </summary>
public interface IBusDevice
{
    /// <summary>Fills <paramref name="data"/> (1, 2, 4 or 8 bytes) with what the guest reads at <paramref name="offset"/>.</summary>
    void Read(ulong offset, Span<byte> data);

    /// <summary>Takes the guest's write of <paramref name="data"/> at <paramref name="offset"/>.</summary>
    void Write(ulong offset, ReadOnlySpan<byte> data);
}
