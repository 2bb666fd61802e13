using System.Runtime.InteropServices;
using KvmSharp.Memory;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Kvm;

// Pause and state of the VM-wide in-kernel devices: the 8259s and IOAPIC (KVM_GET/SET_IRQCHIP), the PIT
// (KVM_GET/SET_PIT2) and kvmclock (KVM_GET/SET_CLOCK), and what the vCPUs' state needs to know about the host.
public sealed unsafe partial class KvmVirtualMachine
{
    private readonly bool _hasPit;
    private readonly Lock _clockLock = new();
    private ulong? _pausedClock;
    private uint[]? _msrIndexList;

    /// <summary>Bytes of the XSAVE area (KVM_CAP_XSAVE2, at least 4096); 0 where KVM has no XSAVE (then the FPU image is saved).</summary>
    internal int XsaveSize { get; }

    internal bool HasXcrs { get; }

    internal bool HasTscKhz { get; }

    /// <summary>KVM_GET_MSR_INDEX_LIST, asked once per VM.</summary>
    internal uint[] MsrIndexList => _msrIndexList ??= _system.GetMsrIndexList();

    private (int XsaveSize, bool HasXcrs, bool HasTscKhz) ProbeStateCapabilities(KvmSystem system)
    {
        int xsave = 0;
        if (system.CheckExtension(KvmCapability.Xsave) != 0)
            xsave = Math.Max(KvmXsave.MinimumSize, CheckVmExtension(KvmCapability.Xsave2));
        return (xsave, system.CheckExtension(KvmCapability.Xcrs) != 0, system.CheckExtension(KvmCapability.GetTscKhz) != 0);
    }

    /// <summary>KVM_CHECK_EXTENSION on the VM descriptor (some answers, like KVM_CAP_XSAVE2's size, are per VM).</summary>
    private int CheckVmExtension(int capability) => Math.Max(0, LibcImports.Ioctl(_fd, KvmIoctls.CheckExtension, (nuint)capability));

    /// <summary>KVM_GET_CLOCK now; <see cref="ResumeTime"/> sets it back, so kvmclock does not advance while paused.</summary>
    public void PauseTime()
    {
        lock (_clockLock) _pausedClock ??= GetClock();
    }

    public void ResumeTime()
    {
        lock (_clockLock)
        {
            if (_pausedClock is not { } clock) return;
            SetClock(clock);
            _pausedClock = null;
        }
    }

    public VmState SaveState()
    {
        ulong clock;
        lock (_clockLock) clock = _pausedClock ?? GetClock();
        return new KvmVmState
        {
            VcpuCount = _vcpuCount,
            PicMaster = KvmIrqchipConversion.ToState(GetIrqchip(KvmIrqchip.PicMaster).Pic),
            PicSlave = KvmIrqchipConversion.ToState(GetIrqchip(KvmIrqchip.PicSlave).Pic),
            IoApic = KvmIrqchipConversion.ToState(GetIrqchip(KvmIrqchip.Ioapic0).Ioapic),
            Pit = _hasPit ? KvmIrqchipConversion.ToState(GetPit()) : null,
            ClockNanoseconds = clock,
        };
    }

    /// <summary>Loads the in-kernel devices and kvmclock (before the vCPUs' states); every field is checked first.</summary>
    public void RestoreState(VmState state)
    {
        StateCheck.NotNull(state, "VM state");
        if (state is not KvmVmState s)
            throw new StateException($"the VM state was saved by the {(state is Emulate.EmulatedVmState ? "software CPU" : "another accelerator")}; this VM runs on KVM");
        StateCheck.That(s.VcpuCount == _vcpuCount, "VcpuCount", $"the state is of a VM with {s.VcpuCount} vCPUs, this one has {_vcpuCount}");
        var master = new KvmIrqchip { ChipId = KvmIrqchip.PicMaster, Pic = KvmIrqchipConversion.FromState(s.PicMaster, "PicMaster") };
        var slave = new KvmIrqchip { ChipId = KvmIrqchip.PicSlave, Pic = KvmIrqchipConversion.FromState(s.PicSlave, "PicSlave") };
        var ioapic = new KvmIrqchip { ChipId = KvmIrqchip.Ioapic0, Ioapic = KvmIrqchipConversion.FromState(s.IoApic, "IoApic") };
        StateCheck.That((s.Pit is null) == !_hasPit, "Pit", _hasPit ? "is missing, but this VM has a PIT" : "is saved, but this VM has no PIT (--no-pit)");
        KvmPitState2? pit = s.Pit is null ? null : KvmIrqchipConversion.FromState(s.Pit);
        StateCheck.AtMost(s.ClockNanoseconds, long.MaxValue / 4, "ClockNanoseconds");

        SetIrqchip(master);
        SetIrqchip(slave);
        SetIrqchip(ioapic);
        if (pit is { } pitState) Check(LibcImports.Ioctl(_fd, KvmIoctls.SetPit2, &pitState), "KVM_SET_PIT2");
        lock (_clockLock)
        {
            SetClock(s.ClockNanoseconds);
            if (_pausedClock is not null) _pausedClock = s.ClockNanoseconds;   // a resume goes on from the loaded time
        }
    }

    private KvmIrqchip GetIrqchip(uint chip)
    {
        var irqchip = new KvmIrqchip { ChipId = chip };
        Check(LibcImports.Ioctl(_fd, KvmIoctls.GetIrqchip, &irqchip), "KVM_GET_IRQCHIP");
        return irqchip;
    }

    private void SetIrqchip(KvmIrqchip irqchip) => Check(LibcImports.Ioctl(_fd, KvmIoctls.SetIrqchip, &irqchip), "KVM_SET_IRQCHIP");

    private KvmPitState2 GetPit()
    {
        KvmPitState2 pit;
        Check(LibcImports.Ioctl(_fd, KvmIoctls.GetPit2, &pit), "KVM_GET_PIT2");
        return pit;
    }

    private ulong GetClock()
    {
        KvmClockData clock;
        Check(LibcImports.Ioctl(_fd, KvmIoctls.GetClock, &clock), "KVM_GET_CLOCK");
        return clock.Clock;
    }

    /// <summary>KVM_SET_CLOCK with only the clock value (no realtime/host TSC flags): kvmclock reads it from now on.</summary>
    private void SetClock(ulong nanoseconds)
    {
        var clock = new KvmClockData { Clock = nanoseconds };
        Check(LibcImports.Ioctl(_fd, KvmIoctls.SetClock, &clock), "KVM_SET_CLOCK");
    }
}
