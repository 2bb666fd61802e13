using KvmSharp.Machine.Runtime;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Machine.State;

/// <summary>
/// A full snapshot, as Firecracker's: a state file (<see cref="MachineState"/> in its checked envelope) and a
/// memory file (guest RAM, regions one after another, pages never written left as holes). Both are written to
/// a temporary name, synced and renamed, so a crash leaves the old snapshot or the new one, never half of one.
/// Loading maps the memory file copy-on-write: pages load when the guest touches them, so a restore costs the
/// same for any RAM size and the file is never changed.
/// </summary>
public static class MachineSnapshot
{
    /// <summary>What a snapshot took: its files' sizes and how long each part took.</summary>
    public sealed record Result(long StateBytes, ulong MemoryDataBytes, TimeSpan StateTime, TimeSpan MemoryTime);

    /// <summary>Saves a paused machine to <paramref name="statePath"/> and <paramref name="memoryPath"/>.</summary>
    public static Result Create(RunningMachine machine, string statePath, string memoryPath)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var state = machine.SaveState();
        var envelope = MachineStateJson.Serialize(state);
        var stateTime = clock.Elapsed;
        clock.Restart();
        ulong data = WriteMemory(machine.Memory, memoryPath);
        var memoryTime = clock.Elapsed;
        AtomicFile.WriteAllBytes(statePath, envelope);
        return new Result(envelope.Length, data, stateTime, memoryTime);
    }

    private static ulong WriteMemory(GuestMemory memory, string path)
    {
        ulong data = 0;
        AtomicFile.Write(path, file =>
        {
            data = memory.WriteTo(file);
            RandomAccess.SetLength(file, (long)memory.Size);   // trailing holes count too: the file is RAM's size
        });
        return data;
    }

    /// <summary>
    /// Builds the snapshot's machine with <paramref name="builder"/> (made from the state's config, see
    /// <see cref="ReadState"/>), over the memory file mapped copy-on-write, paused with the state loaded.
    /// </summary>
    public static RunningMachine Load(MachineState state, string memoryPath, MachineBuilder builder)
    {
        GuestMemory memory;
        using (var file = File.OpenHandle(memoryPath, FileMode.Open, FileAccess.Read))
        {
            long length = RandomAccess.GetLength(file);
            if ((ulong)length != state.MemorySize)
                throw new StateException($"memory file '{memoryPath}' has {length} bytes; the snapshot's machine has {state.MemorySize}");
            // The mapping keeps its own reference to the file, so the handle may close now.
            memory = GuestMemory.CreateFromFile(file, state.MemorySize);
        }
        return builder.BuildForRestore(state, memory);
    }

    /// <summary>Reads and checks a state file; every problem is one line (a <see cref="StateException"/>).</summary>
    public static MachineState ReadState(string statePath) => MachineStateJson.ReadFile(statePath);
}
