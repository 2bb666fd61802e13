using System.Collections.Concurrent;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>
/// A VM run by the software CPU. It owns the platform the vCPUs share (<see cref="EmulatedPlatform"/>):
/// guest time (host time, or instruction-counted with <see cref="VirtualMachineOptions.InstructionCountShift"/>),
/// one local APIC per vCPU on an APIC bus, and the chipset (IOAPIC, 8259s, PIT) when a factory gives
/// one. Without a chipset, interrupt lines reach no CPU (enough for guests that poll their devices);
/// the local APICs, their timers and IPIs work either way.
/// </summary>
public sealed class EmulatedVirtualMachine : IVirtualMachine
{
    private readonly VirtualMachineOptions _options;
    private readonly ConcurrentDictionary<string, byte> _reported = new();

    internal EmulatedVirtualMachine(GuestMemory memory, VirtualMachineOptions options, Action<string> notice,
        Func<EmulatedPlatform, VirtualMachineOptions, IChipset?>? chipset = null)
    {
        Memory = memory;
        _options = options;
        Physical = new PhysicalMemory(memory);
        Notice = notice;
        IGuestClock clock = options.InstructionCountShift is { } shift ? new InstructionClock(shift) : new HostClock();
        Platform = new EmulatedPlatform(clock);
        if (chipset?.Invoke(Platform, options) is { } created) Platform.AttachChipset(created);
        if (clock is InstructionClock) GuestTime = new GuestTimeProvider(clock);
    }

    public TimeProvider? GuestTime { get; }

    public GuestMemory Memory { get; }

    internal PhysicalMemory Physical { get; }

    /// <summary>What the vCPUs share: the platform lock, the clock, the APIC bus, the chipset.</summary>
    public EmulatedPlatform Platform { get; }

    private Action<string> Notice { get; }

    public IVcpu CreateVcpu(int index)
    {
        if (index < 0 || index >= _options.VcpuCount)
            throw new ArgumentOutOfRangeException(nameof(index), $"vCPU index must be 0..{_options.VcpuCount - 1}");
        return new EmulatedVcpu(this, index, _options.VcpuCount);
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

    public void Dispose() { }
}
