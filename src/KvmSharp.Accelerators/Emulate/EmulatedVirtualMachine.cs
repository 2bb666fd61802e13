using System.Collections.Concurrent;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Memory;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>
/// A VM run by the software CPU. It owns the platform the vCPUs share (<see cref="EmulatedPlatform"/>):
/// guest time (host time, or instruction-counted with <see cref="VirtualMachineOptions.InstructionCountShift"/>),
/// one local APIC per vCPU on an APIC bus, and the chipset (IOAPIC, 8259s, PIT) when a factory gives
/// one. Without a chipset, interrupt lines reach no CPU (enough for guests that poll their devices);
/// the local APICs, their timers and IPIs work either way.
/// </summary>
public sealed partial class EmulatedVirtualMachine : IVirtualMachine
{
    private readonly VirtualMachineOptions _options;
    private readonly ConcurrentDictionary<string, byte> _reported = new();
    private readonly IVmClock _clock;
    private readonly List<EmulatedVcpu> _vcpus = [];

    internal EmulatedVirtualMachine(GuestMemory memory, VirtualMachineOptions options, Action<string> notice,
        Func<EmulatedPlatform, VirtualMachineOptions, IChipset?>? chipset = null)
    {
        Memory = memory;
        _options = options;
        Physical = new PhysicalMemory(memory);
        Notice = notice;
        _clock = options.InstructionCountShift is { } shift ? new InstructionClock(shift) : new HostClock();
        Platform = new EmulatedPlatform(_clock);
        if (chipset?.Invoke(Platform, options) is { } created) Platform.AttachChipset(created);
        if (_clock is InstructionClock) GuestTime = new GuestTimeProvider(_clock);
    }

    TimeProvider? IVirtualMachine.GuestTime => GuestTime;

    public GuestTimeProvider? GuestTime { get; }

    public GuestMemory Memory { get; }

    internal PhysicalMemory Physical { get; }

    /// <summary>How the vCPUs use the block translator.</summary>
    internal Translate.TranslatorMode TranslatorMode => _options.Translator ?? Translate.TranslatorModes.Default;

    /// <summary>What the vCPUs share: the platform lock, the clock, the APIC bus, the chipset.</summary>
    public EmulatedPlatform Platform { get; }

    private Action<string> Notice { get; }

    public IVcpu CreateVcpu(int index)
    {
        if (index < 0 || index >= _options.VcpuCount)
            throw new ArgumentOutOfRangeException(nameof(index), $"vCPU index must be 0..{_options.VcpuCount - 1}");
        var vcpu = new EmulatedVcpu(this, index, _options.VcpuCount);
        lock (_vcpus) _vcpus.Add(vcpu);
        return vcpu;
    }

    /// <summary>Drives a GSI of the chipset (none attached: the level change is dropped).</summary>
    public void SetInterruptLine(uint gsi, bool high) => Platform.SetInterruptLine(gsi, high);

    /// <summary>Decodes the MSI into an APIC message and delivers it (see <see cref="MsiMessage"/>).</summary>
    public void SignalMsi(ulong address, uint data)
    {
        if (!MsiMessage.TryDecode(address, data, out var message)) return;
        lock (Platform.Lock) Platform.Bus.Deliver(message);
    }

    internal void ReportUnimplemented(string line)
    {
        if (_reported.TryAdd(line, 0)) Notice(line);
    }

    // ---- guest time while paused ------------------------------------------------------------------

    /// <summary>Stops guest time: timers and deadlines do not move while the machine is paused.</summary>
    public void PauseTime() => _clock.Pause();

    /// <summary>Guest time goes on from where <see cref="PauseTime"/> stopped it.</summary>
    public void ResumeTime() => _clock.Resume();

    // ---- state ------------------------------------------------------------------------------------

    public VmState SaveState()
    {
        lock (Platform.Lock)
            return new EmulatedVmState
            {
                VcpuCount = _options.VcpuCount,
                GuestNanoseconds = _clock.Nanoseconds,
                Chipset = Platform.Chipset switch
                {
                    null => null,
                    LegacyChipset legacy => legacy.SaveState(),
                    var other => throw new NotSupportedException($"the chipset {other.GetType().Name} cannot save its state"),
                },
            };
    }

    /// <summary>
    /// Loads guest time and the chipset (while the machine is paused). A KVM state, another vCPU count, a chipset
    /// saved with or without a PIT unlike this VM's, or any value out of range is refused before anything changes.
    /// </summary>
    public void RestoreState(VmState state)
    {
        StateCheck.NotNull(state, "VM state");
        if (state is not EmulatedVmState s)
            throw new StateException($"the VM state was saved by the {(state is Kvm.KvmVmState ? "KVM" : "another")} accelerator; this VM runs on the software CPU");
        StateCheck.That(s.VcpuCount == _options.VcpuCount, "VcpuCount", $"the state is of a VM with {s.VcpuCount} vCPUs, this one has {_options.VcpuCount}");
        StateCheck.InRange(s.GuestNanoseconds, 0, long.MaxValue / 4, "GuestNanoseconds");
        lock (Platform.Lock)
        {
            switch (Platform.Chipset)
            {
                case null:
                    StateCheck.That(s.Chipset is null, "Chipset", "is saved, but this VM has none");
                    break;
                case LegacyChipset legacy:
                    legacy.RestoreState(StateCheck.NotNull(s.Chipset, "Chipset"));
                    break;
                case var other:
                    throw new NotSupportedException($"the chipset {other.GetType().Name} cannot load a state");
            }
            _clock.Set(s.GuestNanoseconds);
            GuestTime?.Rebase();
            Platform.DeadlinesChanged();
            Platform.ExternalInterruptChanged();
        }
    }

    public void Dispose() { }
}
