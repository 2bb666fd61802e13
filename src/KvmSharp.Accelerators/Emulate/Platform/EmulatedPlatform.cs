namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// What the vCPUs of one emulated VM share besides memory: the platform lock, guest time, the APIC
/// bus with every local APIC, the chipset (IOAPIC, 8259s, PIT; optional) and the devices with
/// deadlines. Every device-state change happens under <see cref="Lock"/>; the vCPUs' hot path reads
/// only <see cref="NextDeadline"/>.
/// </summary>
public sealed class EmulatedPlatform
{
    private readonly List<ITimedDevice> _timed = [];
    private long _nextDeadline = long.MaxValue;
    private int _waitingVcpus, _vcpuCount;

    public EmulatedPlatform(IGuestClock clock) => Clock = clock;

    public object Lock { get; } = new();

    public IGuestClock Clock { get; }

    /// <summary>The deterministic clock, when guest time counts instructions.</summary>
    public InstructionClock? InstructionClock => Clock as InstructionClock;

    public ApicBus Bus { get; } = new();

    /// <summary>IOAPIC, 8259 pair and PIT. Null: no chipset, and interrupt lines reach no CPU.</summary>
    public IChipset? Chipset { get; private set; }

    /// <summary>Guest nanoseconds of the earliest deadline of any timed device.</summary>
    public long NextDeadline => Volatile.Read(ref _nextDeadline);

    public void AttachChipset(IChipset chipset)
    {
        lock (Lock)
        {
            Chipset = chipset;
            foreach (var device in chipset.TimedDevices) _timed.Add(device);
            DeadlinesChanged();
        }
    }

    public LocalApic AddApic(int index, Cpu.CpuState cpu)
    {
        lock (Lock)
        {
            var apic = new LocalApic(index, cpu, this);
            Bus.Add(apic);
            _timed.Add(apic.Timer);
            _vcpuCount++;
            return apic;
        }
    }

    /// <summary>Recomputes the earliest deadline after a device changed its own (under the lock).</summary>
    public void DeadlinesChanged()
    {
        long next = long.MaxValue;
        foreach (var device in _timed) next = Math.Min(next, device.NextDeadline);
        Volatile.Write(ref _nextDeadline, next);
    }

    /// <summary>Updates every device whose deadline has passed; cheap when none has.</summary>
    public void PollTimers()
    {
        long now = Clock.Nanoseconds;
        if (now < NextDeadline) return;
        lock (Lock)
        {
            foreach (var device in _timed)
                if (device.NextDeadline <= now) device.Update(now);
            DeadlinesChanged();
            ExternalInterruptChanged();
        }
    }

    /// <summary>Drives a GSI of the chipset; without one the level change is dropped.</summary>
    public void SetInterruptLine(uint gsi, bool high)
    {
        lock (Lock)
        {
            if (Chipset is not { } chipset) return;
            chipset.SetInterruptLine(gsi, high);
            ExternalInterruptChanged();
        }
    }

    /// <summary>The 8259's INTR may have changed: wake the CPUs that take it through LINT0 (under the lock).</summary>
    public void ExternalInterruptChanged()
    {
        if (Chipset is not { InterruptRequested: true }) return;
        foreach (var apic in Bus.Apics)
            if (apic.AcceptsExternalInterrupts) apic.Signal();
    }

    // ---- idle accounting for deterministic time ------------------------------------------------

    /// <summary>A vCPU starts waiting (HLT or wait-for-SIPI) with nothing to take.</summary>
    public void EnterWait() => Interlocked.Increment(ref _waitingVcpus);

    /// <summary>A waiting vCPU has something to do (it was signalled or kicked).</summary>
    public void LeaveWait() => Interlocked.Decrement(ref _waitingVcpus);

    /// <summary>Whether every vCPU is waiting (so deterministic time may jump to the next deadline).</summary>
    public bool AllWaiting => Volatile.Read(ref _waitingVcpus) >= Volatile.Read(ref _vcpuCount);
}
