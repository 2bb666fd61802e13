using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// One vCPU's view of the emulated platform: its local APIC page and the chipset's registers, handled
/// inside the accelerator as KVM handles them in the kernel, and the MSRs the platform owns
/// (IA32_TSC_DEADLINE, the kvmclock pair).
/// </summary>
public sealed class VcpuPlatform : IPlatformIo
{
    public const uint MsrTscDeadline = 0x6E0;

    private readonly EmulatedPlatform _platform;
    private readonly CpuState _cpu;
    private readonly GuestMemory _memory;
    private readonly PhysicalMemory? _physical;

    /// <param name="physical">The VM's RAM as the CPUs see it: kvmclock's writes go into its dirty log. Null in tests of the platform alone.</param>
    public VcpuPlatform(EmulatedPlatform platform, int index, CpuState cpu, GuestMemory memory, PhysicalMemory? physical = null)
    {
        _platform = platform;
        _cpu = cpu;
        _memory = memory;
        _physical = physical;
        Apic = platform.AddApic(index, cpu);
    }

    public LocalApic Apic { get; }

    public EmulatedPlatform Shared => _platform;

    /// <summary>The guest TSC now: guest nanoseconds (a 1 GHz TSC) plus this vCPU's offset (IA32_TSC writes).</summary>
    public ulong Tsc => (ulong)_platform.Clock.Nanoseconds + _cpu.Tsc;

    public bool TryReadPort(ushort port, int size, out uint value)
    {
        value = 0;
        if (_platform.Chipset is not { } chipset) return false;
        lock (_platform.Lock) return chipset.TryReadPort(port, size, out value);
    }

    public bool TryWritePort(ushort port, int size, uint value)
    {
        if (_platform.Chipset is not { } chipset) return false;
        lock (_platform.Lock)
        {
            if (!chipset.TryWritePort(port, size, value)) return false;
            ChipsetChanged();
            return true;
        }
    }

    public bool TryReadMmio(ulong address, int size, out ulong value)
    {
        lock (_platform.Lock)
        {
            if (Apic.Decodes(address))
            {
                value = Apic.ReadMmio(address, size);
                return true;
            }
            value = 0;
            return _platform.Chipset?.TryReadMmio(address, size, out value) == true;
        }
    }

    public bool TryWriteMmio(ulong address, int size, ulong value)
    {
        lock (_platform.Lock)
        {
            if (Apic.Decodes(address))
            {
                Apic.WriteMmio(address, size, value);
                return true;
            }
            if (_platform.Chipset?.TryWriteMmio(address, size, value) != true) return false;
            ChipsetChanged();
            return true;
        }
    }

    /// <summary>A chipset register write may have re-armed the PIT or raised INTR.</summary>
    private void ChipsetChanged()
    {
        _platform.DeadlinesChanged();
        _platform.ExternalInterruptChanged();
    }

    public bool TryReadMsr(uint index, out ulong value)
    {
        switch (index)
        {
            case MsrTscDeadline:
                lock (_platform.Lock) value = Apic.Timer.TscDeadline;
                return true;
            case KvmClock.MsrSystemTime:
            case KvmClock.MsrWallClock:
                value = _cpu.OtherMsrs.GetValueOrDefault(index);
                return true;
            default:
                value = 0;
                return false;
        }
    }

    public bool TryWriteMsr(uint index, ulong value)
    {
        switch (index)
        {
            case MsrTscDeadline:
                lock (_platform.Lock)
                {
                    Apic.Timer.SetTscDeadline(value, _cpu.Tsc);
                    _platform.DeadlinesChanged();
                }
                return true;
            case KvmClock.MsrSystemTime:
                // Bit 0 enables; the structure is 4-byte aligned (msr.rst). Outside RAM it is ignored, as a bad GPA is to KVM.
                _cpu.OtherMsrs[index] = value;
                if ((value & 1) != 0)
                {
                    long now = _platform.Clock.Nanoseconds;
                    if (KvmClock.WriteTimeInfo(_memory, value & ~1UL, now, (ulong)now + _cpu.Tsc)) _physical?.LogWrite(value & ~1UL, 32);
                }
                return true;
            case KvmClock.MsrWallClock:
                _cpu.OtherMsrs[index] = value;
                if (KvmClock.WriteWallClock(_memory, value, _platform.Clock.Nanoseconds)) _physical?.LogWrite(value, 12);
                return true;
            default:
                return false;
        }
    }
}
