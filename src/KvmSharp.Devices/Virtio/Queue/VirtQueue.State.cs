using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Devices.Virtio.Queue;

/// <summary>Save and restore (<see cref="QueueState"/>): a restored ring is checked exactly as <see cref="Enable"/> checks the driver's.</summary>
public sealed partial class VirtQueue : IStateful<QueueState>
{
    public QueueState SaveState() => new()
    {
        MaxSize = MaxQueueSize,
        Size = Size,
        Ready = IsReady,
        DescriptorTable = DescriptorTable.Value,
        DriverRing = DriverRing.Value,
        DeviceRing = DeviceRing.Value,
        NextAvail = _nextAvail,
        NextUsed = _nextUsed,
        EventIdx = EventIdx,
        SignalledUsed = _signalledUsed,
        SignalledUsedValid = _signalledUsedValid,
    };

    /// <summary>
    /// Loads <paramref name="state"/>: a ready queue's size and rings must pass the checks of <see cref="Enable"/>
    /// against this guest memory; a queue that is not ready comes back reset (the transport keeps the driver's
    /// half-written registers). Only the device's thread, or nobody (paused, not active), may use the queue meanwhile.
    /// </summary>
    public void RestoreState(QueueState state)
    {
        Check(state, "queue");
        if (!state.Ready)
        {
            Reset();
            return;
        }
        Enable(state.Size, new GuestAddress(state.DescriptorTable), new GuestAddress(state.DriverRing), new GuestAddress(state.DeviceRing), state.EventIdx);
        _nextAvail = state.NextAvail;
        _nextUsed = state.NextUsed;
        _signalledUsed = state.SignalledUsed;
        _signalledUsedValid = state.SignalledUsedValid;
    }

    /// <summary>Refuses (naming <paramref name="field"/>) a state of another queue shape, or a ready queue the driver could not have enabled.</summary>
    public void Check(QueueState? state, string field)
    {
        StateCheck.NotNull(state, field);
        StateCheck.That(state.MaxSize == MaxQueueSize, $"{field}.MaxSize", $"the state's queue holds up to {state.MaxSize} entries, this one {MaxQueueSize}");
        if (!state.Ready)
        {
            StateCheck.That(state.NextAvail == 0 && state.NextUsed == 0 && state.SignalledUsed == 0 && !state.SignalledUsedValid,
                $"{field}.NextAvail", "a queue that is not enabled has no ring positions");
            return;
        }
        ushort size = state.Size;
        if (SizeProblem(size) is { } problem) StateCheck.Fail($"{field}.Size", problem);
        CheckRingField($"{field}.DescriptorTable", "descriptor table", state.DescriptorTable, 16, DescriptorTableLength(size));
        CheckRingField($"{field}.DriverRing", "driver ring", state.DriverRing, 2, DriverRingLength(size));
        CheckRingField($"{field}.DeviceRing", "device ring", state.DeviceRing, 4, DeviceRingLength(size));
    }

    private void CheckRingField(string field, string name, ulong address, ulong alignment, ulong length)
    {
        if (RingProblem(name, new GuestAddress(address), alignment, length) is { } problem) StateCheck.Fail(field, problem);
    }
}
