using KvmSharp.State;

namespace KvmSharp.Devices.Pci;

/// <summary>Save and restore of every function's configuration space, and the BAR decoding that follows from them.</summary>
public sealed partial class PciBus : IStateful<PciBusState>
{
    public PciBusState SaveState()
    {
        var functions = new List<PciFunctionState>();
        lock (_configLock)
            for (int index = 0; index < _functions.Length; index++)
                if (_functions[index] is { } device)
                    functions.Add(new PciFunctionState
                    {
                        Slot = index / FunctionsPerSlot,
                        Function = index % FunctionsPerSlot,
                        Config = device.Config.SaveState(),
                    });
        return new PciBusState { Functions = [.. functions] };
    }

    /// <summary>
    /// Loads every function's configuration space: the state must name exactly the functions attached here, each
    /// with a space that fits it (<see cref="PciConfigSpace.Check"/>); all are checked before any changes. Then each
    /// function hears of the write (<see cref="IPciDevice.ConfigWritten"/>: MSI-X control, INTx disable) and the BARs
    /// are decoded where the restored bases and command registers say: first every BAR that moves comes off the
    /// bus, then the new places go on, so two functions that swap ranges do not collide half way.
    /// </summary>
    public void RestoreState(PciBusState state)
    {
        StateCheck.NotNull(state, "pci");
        var entries = StateCheck.LengthAtMost(state.Functions, _functions.Length, "pci.Functions");
        lock (_configLock)
        {
            var seen = new bool[_functions.Length];
            foreach (var entry in entries)
            {
                StateCheck.NotNull(entry, "pci.Functions[]");
                StateCheck.InRange(entry.Slot, 0, Slots - 1, "pci.Functions[].Slot");
                StateCheck.InRange(entry.Function, 0, FunctionsPerSlot - 1, "pci.Functions[].Function");
                int index = entry.Slot * FunctionsPerSlot + entry.Function;
                string name = $"pci.Functions[00:{entry.Slot:x2}.{entry.Function}]";
                StateCheck.That(_functions[index] is not null, name, "no function is attached there");
                StateCheck.That(!seen[index], name, "appears twice");
                seen[index] = true;
                _functions[index]!.Config.Check(entry.Config, $"{name}.Config");
            }
            for (int index = 0; index < _functions.Length; index++)
                StateCheck.That(_functions[index] is null || seen[index], $"pci.Functions[00:{index / FunctionsPerSlot:x2}.{index % FunctionsPerSlot}]",
                    "is attached here but missing from the state");

            foreach (var entry in entries)
            {
                var device = _functions[entry.Slot * FunctionsPerSlot + entry.Function]!;
                device.Config.RestoreState(entry.Config);
                device.ConfigWritten(0, device.Config.Size);
            }
            for (int index = 0; index < _functions.Length; index++)
                if (_functions[index] is not null) ReleaseMovedBars(index);
            for (int index = 0; index < _functions.Length; index++)
                if (_functions[index] is not null) DecodeBars(index);
        }
    }
}
