using System.Buffers.Binary;
using KvmSharp.State;

namespace KvmSharp.Devices.Pci;

/// <summary>
/// Save and restore of the configuration bytes. The read-only shape (IDs, class, BAR types and sizes, the
/// capability list and every field the guest cannot write) belongs to the function as built; a saved state
/// must match it bit for bit, so a state from another device, or one that claims another BAR size, is refused.
/// </summary>
public sealed partial class PciConfigSpace : IStateful<PciConfigSpaceState>
{
    public PciConfigSpaceState SaveState()
    {
        lock (_lock) return new PciConfigSpaceState { Bytes = [.. _data] };
    }

    /// <summary>
    /// Loads the bytes after <see cref="Check"/>. The caller re-evaluates what follows from them (BAR decoding:
    /// <see cref="PciBus.RestoreState"/> does both).
    /// </summary>
    public void RestoreState(PciConfigSpaceState state)
    {
        Check(state, "pci");
        lock (_lock) state.Bytes.CopyTo(_data, 0);
    }

    /// <summary>
    /// Refuses (<see cref="StateException"/> naming <paramref name="field"/>) a state that does not fit this function:
    /// wrong size, another vendor or device ID, a BAR of another type or size, or any other read-only bit changed.
    /// The write-one-to-clear status bits and the interrupt status bit are the device's state and may differ.
    /// </summary>
    public void Check(PciConfigSpaceState? state, string field)
    {
        StateCheck.NotNull(state, field);
        var bytes = StateCheck.Length(state.Bytes, _data.Length, $"{field}.Bytes");
        lock (_lock)
        {
            ushort vendor = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(VendorIdOffset));
            ushort device = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(DeviceIdOffset));
            if (vendor != Get16(VendorIdOffset) || device != Get16(DeviceIdOffset))
                StateCheck.Fail($"{field}.DeviceId", $"the state is of a {vendor:x4}:{device:x4} function, this one is {Get16(VendorIdOffset):x4}:{Get16(DeviceIdOffset):x4}");
            for (int bar = 0; bar < 6; bar++)
            {
                int at = BarOffset + 4 * bar;
                if (ReadOnlyDiffers(bytes, at, 4))
                    StateCheck.Fail($"{field}.Bar{bar}", _bars[bar] is { } shape
                        ? $"the state's BAR{bar} is not a {shape.Kind} BAR of 0x{shape.Size:x} bytes as this function's is"
                        : $"the state has a BAR{bar} this function does not have");
            }
            for (int at = 0; at < _data.Length; at++)
                if (ReadOnlyDiffers(bytes, at, 1))
                    StateCheck.Fail($"{field}.Bytes", $"read-only bits at 0x{at:x3} are 0x{_data[at]:x2} on this function, 0x{bytes[at]:x2} in the state");
        }
    }

    /// <summary>Whether bytes [at, at+length) differ from ours in a bit the guest cannot write and the device does not own.</summary>
    private bool ReadOnlyDiffers(byte[] bytes, int at, int length)
    {
        for (int i = at; i < at + length; i++)
        {
            int free = _writable[i] | _writeOneToClear[i];
            if (i == StatusOffset) free |= StatusInterrupt;
            if (((bytes[i] ^ _data[i]) & ~free) != 0) return true;
        }
        return false;
    }
}
