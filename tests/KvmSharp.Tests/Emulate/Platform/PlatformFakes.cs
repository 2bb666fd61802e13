using KvmSharp.Accelerators.Emulate.Platform;

namespace KvmSharp.Tests.Emulate.Platform;

/// <summary>Guest time that moves only when a test says so.</summary>
internal sealed class ManualClock : IGuestClock
{
    public long Nanoseconds { get; set; }

    /// <summary>Moves to the first nanosecond of PIT clock tick <paramref name="tick"/>.</summary>
    public void SetTick(long tick) => Nanoseconds = PitClock.TimeOfTick(tick);
}

/// <summary>Records what the IOAPIC sends to the local APICs.</summary>
internal sealed class RecordingApicBus : IApicBus
{
    public List<InterruptMessage> Messages { get; } = [];

    public void Deliver(in InterruptMessage message) => Messages.Add(message);
}
