namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// The APIC bus of the emulated platform: routes interrupt messages from the IOAPIC and IPIs from the
/// local APICs' ICR to their destinations (SDM vol 3 §10.6.2). Every call is made under the platform
/// lock; a target on another vCPU is signalled (and woken if halted) by its <see cref="LocalApic"/>.
/// </summary>
public sealed class ApicBus : IApicBus
{
    private LocalApic[] _apics = [];

    public IReadOnlyList<LocalApic> Apics => _apics;

    /// <summary>Adds the APIC of the next vCPU; APIC ids are vCPU indices, as in our MADT.</summary>
    public void Add(LocalApic apic)
    {
        var apics = new LocalApic[_apics.Length + 1];
        _apics.CopyTo(apics, 0);
        apics[^1] = apic;
        _apics = apics;
    }

    public void Deliver(in InterruptMessage message)
    {
        if (message.DeliveryMode == ApicDeliveryMode.LowestPriority)
        {
            // Lowest priority: the matching APIC with the lowest task priority (SDM vol 3 §10.6.2.4).
            LocalApic? chosen = null;
            foreach (var apic in _apics)
                if (Matches(apic, message.Destination, message.LogicalDestination) && (chosen is null || apic.TaskPriority < chosen.TaskPriority))
                    chosen = apic;
            chosen?.Accept(message.DeliveryMode, message.Vector, message.LevelTriggered);
            return;
        }
        foreach (var apic in _apics)
            if (Matches(apic, message.Destination, message.LogicalDestination))
                apic.Accept(message.DeliveryMode, message.Vector, message.LevelTriggered);
    }

    /// <summary>
    /// Sends what a write of ICR low asks for: vector, delivery mode, destination mode and shorthand
    /// (SDM vol 3 §10.6.1, figure 10-12). An INIT with level de-assert only synchronises arbitration
    /// ids on old systems and does nothing here.
    /// </summary>
    internal void SendInterProcessor(LocalApic source, uint icrLow, byte destination)
    {
        var mode = (ApicDeliveryMode)((icrLow >> 8) & 7);
        byte vector = (byte)icrLow;
        bool logical = (icrLow & (1u << 11)) != 0, assert = (icrLow & (1u << 14)) != 0, level = (icrLow & (1u << 15)) != 0;
        if (mode == ApicDeliveryMode.Init && level && !assert) return;
        uint shorthand = (icrLow >> 18) & 3;
        switch (shorthand)
        {
            case 1:
                source.Accept(mode, vector, levelTriggered: false);
                return;
            case 2:
            case 3:
                foreach (var apic in _apics)
                    if (shorthand == 2 || apic != source) apic.Accept(mode, vector, levelTriggered: false);
                return;
        }
        Deliver(new InterruptMessage(vector, mode, destination, logical, LevelTriggered: false));
    }

    private static bool Matches(LocalApic apic, byte destination, bool logical) =>
        logical ? apic.MatchesLogical(destination) : destination == 0xFF || destination == apic.Id;
}
