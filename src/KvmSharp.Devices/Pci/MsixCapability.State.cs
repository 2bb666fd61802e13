using KvmSharp.State;

namespace KvmSharp.Devices.Pci;

/// <summary>Save and restore of the MSI-X table and pending bits.</summary>
public sealed partial class MsixCapability : IStateful<MsixState>
{
    public MsixState SaveState()
    {
        lock (_lock)
        {
            var pba = new byte[PbaBytes(Vectors)];
            for (int i = 0; i < pba.Length; i++) pba[i] = (byte)(_pending[i >> 3] >> (8 * (i & 7)));
            return new MsixState { Table = [.. _table], PendingBits = pba };
        }
    }

    /// <summary>
    /// Loads the table and pending bits after checking their sizes (and that no bit beyond the last vector is set).
    /// Nothing is sent here: a pending vector goes out when the guest unmasks it, as before the save.
    /// </summary>
    public void RestoreState(MsixState state)
    {
        Check(state, "msix");
        lock (_lock)
        {
            state.Table.CopyTo(_table, 0);
            Array.Clear(_pending);
            for (int i = 0; i < state.PendingBits.Length; i++) _pending[i >> 3] |= (ulong)state.PendingBits[i] << (8 * (i & 7));
        }
    }

    /// <summary>Refuses a state that does not fit this capability's vector count.</summary>
    public void Check(MsixState? state, string field)
    {
        StateCheck.NotNull(state, field);
        StateCheck.Length(state.Table, _table.Length, $"{field}.Table");
        var pba = StateCheck.Length(state.PendingBits, (int)PbaBytes(Vectors), $"{field}.PendingBits");
        for (int bit = Vectors; bit < pba.Length * 8; bit++)
            StateCheck.That((pba[bit >> 3] & (1 << (bit & 7))) == 0, $"{field}.PendingBits", $"vector {bit} is pending, but there are only {Vectors}");
    }
}
