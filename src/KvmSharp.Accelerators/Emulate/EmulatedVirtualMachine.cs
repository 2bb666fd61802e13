using System.Collections.Concurrent;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>
/// A VM run by the software CPU. The platform's interrupt controllers (LAPIC, IOAPIC, PIC) and timers
/// for this backend are the next step (issue 4); until then interrupt lines reach no vCPU, which is
/// enough for guests that poll their devices.
/// </summary>
public sealed class EmulatedVirtualMachine : IVirtualMachine
{
    private readonly VirtualMachineOptions _options;
    private readonly ConcurrentDictionary<string, byte> _reported = new();

    internal EmulatedVirtualMachine(GuestMemory memory, VirtualMachineOptions options, Action<string> notice)
    {
        Memory = memory;
        _options = options;
        Physical = new PhysicalMemory(memory);
        Notice = notice;
    }

    public GuestMemory Memory { get; }

    internal PhysicalMemory Physical { get; }

    private Action<string> Notice { get; }

    public IVcpu CreateVcpu(int index)
    {
        if (index < 0 || index >= _options.VcpuCount)
            throw new ArgumentOutOfRangeException(nameof(index), $"vCPU index must be 0..{_options.VcpuCount - 1}");
        return new EmulatedVcpu(this, index, _options.VcpuCount);
    }

    /// <summary>No interrupt controller listens yet (issue 4): the level change is dropped.</summary>
    public void SetInterruptLine(uint gsi, bool high) { }

    internal void ReportUnimplemented(string line)
    {
        if (_reported.TryAdd(line, 0)) Notice(line);
    }

    public void Dispose() { }
}
