using KvmSharp.Machine.Config;
using KvmSharp.Machine.Console;
using KvmSharp.Machine.Control;
using KvmSharp.Machine.Migration;
using KvmSharp.Machine.State;
using KvmSharp.State;
using KvmSharp.Tests.Machine.Migration;

namespace KvmSharp.Fuzz.Targets;

/// <summary>A machine state saved by our own code: the demo guest on the software CPU, paused after a moment.</summary>
internal static class SavedMachine
{
    private static readonly Lazy<(byte[] Envelope, ulong MemorySize)> Saved = new(() =>
    {
        var config = new MachineConfig { Accelerator = AcceleratorChoice.Emulate, MemorySize = 16 << 20 };
        using var machine = new MachineController(config, new MachineControllerOptions { Console = new NullConsole() });
        machine.Start();
        Thread.Sleep(200);
        machine.Pause();
        var running = machine.Current ?? throw new InvalidOperationException("the demo guest ended before it was paused");
        return (MachineStateJson.Serialize(running.SaveState()), running.Memory.Size);
    });

    public static byte[] Envelope => Saved.Value.Envelope;
    public static ulong MemorySize => Saved.Value.MemorySize;
}

/// <summary>A snapshot's state file as `snapshot load` reads it: the checked envelope (magic, kind, version, length, SHA-256) and the JSON.</summary>
public sealed class StateFileTarget : FuzzTarget
{
    public override string Name => "state-file";
    public override string Description => "snapshot state file: envelope and machine state JSON (State StateFile, Machine/State MachineStateJson)";
    public override bool IsExpected(Exception exception) => exception is StateException;
    public override void Run(ReadOnlySpan<byte> input) => MachineStateJson.Deserialize(input.ToArray(), "fuzz state");
    public override IEnumerable<FuzzSeed> Seeds() { yield return new("demo-guest-paused", SavedMachine.Envelope); }
}

/// <summary>
/// The machine state JSON behind the envelope: the harness wraps the input with a correct SHA-256, as afl cannot,
/// so the fuzzing reaches the JSON and its checks. Expected: StateException.
/// </summary>
public sealed class StateJsonTarget : FuzzTarget
{
    public override string Name => "state-json";
    public override string Description => "machine state JSON, its digest made right by the harness (Machine/State MachineStateJson)";
    public override bool IsExpected(Exception exception) => exception is StateException;

    public override void Run(ReadOnlySpan<byte> input) =>
        MachineStateJson.Deserialize(StateFile.Wrap(input, StateFile.MachineStateKind, MachineStateJson.FormatVersion), "fuzz state");

    public override IEnumerable<FuzzSeed> Seeds() { yield return new("demo-guest-paused", StateFile.Unwrap(SavedMachine.Envelope, StateFile.MachineStateKind, MachineStateJson.FormatVersion, "seed").ToArray()); }
}

/// <summary>An incoming live migration: header, rounds, page records, state, end digest (Machine/Migration MigrationReceiver.Receive).</summary>
public sealed class MigrationTarget : FuzzTarget
{
    public override string Name => "migration";
    public override string Description => "incoming migration stream (Machine/Migration MigrationReceiver)";
    public override bool IsExpected(Exception exception) => exception is MigrationException or StateException;

    public override void Run(ReadOnlySpan<byte> input)
    {
        using var connection = new ScriptedConnection(input.ToArray());
        MigrationReceiver.Receive(connection).Memory.Dispose();
    }

    public override IEnumerable<FuzzSeed> Seeds()
    {
        var stream = new MemoryStream();
        using (var writer = new MigrationWriter(stream))
        {
            writer.WriteHeader(SavedMachine.MemorySize);
            writer.WriteRound(0, 0);
            writer.WriteState(SavedMachine.Envelope);
            writer.WriteEnd();
        }
        yield return new("state-only", stream.ToArray());
    }
}
