using System.Runtime.InteropServices;
using KvmSharp.Native.Kvm;
using KvmSharp.Native.Libc;
using KvmSharp.Native.X86;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Kvm;

// Pause, save and load of a KVM vCPU (Documentation/virt/kvm/api.rst §4). Everything here runs on the vCPU's own
// thread while the machine is paused: KVM wants vCPU ioctls from the thread that runs the vCPU.
public sealed unsafe partial class KvmVcpu
{
    private const int FpuSize = 416, MaxSavedMsrs = 4096;
    private const uint MsrApicBase = 0x1B, MsrTscDeadline = 0x6E0;

    /// <summary>
    /// Completes an answered port or MMIO exit: KVM_RUN with immediate_exit set finishes the instruction (the read
    /// takes its data from kvm_run) and returns EINTR before entering the guest. Where the completion asks for a
    /// further exit (string I/O with more elements) that exit is kept for the next <see cref="Run"/>, and the vCPU
    /// cannot be saved until the VMM has answered it.
    /// </summary>
    public void CompletePendingIo()
    {
        if (!_awaitsCompletion || _deferredExit) return;
        Volatile.Write(ref _run->ImmediateExit, 1);
        int rc = LibcImports.Ioctl(_fd, KvmIoctls.Run, 0);
        int errno = rc < 0 ? Marshal.GetLastPInvokeError() : 0;
        Volatile.Write(ref _run->ImmediateExit, 0);
        VcpuKickSignal.ConsumePending();
        _awaitsCompletion = false;
        if (rc == 0)
        {
            _deferredExit = true;
            return;
        }
        if (errno is not (LibcConstants.EINTR or LibcConstants.EAGAIN))
            throw new NativeException("KVM_RUN (completing port/MMIO I/O)", errno);
    }

    /// <summary>KVM_KVMCLOCK_CTRL: marks the guest's kvmclock as paused; EINVAL means the guest set no kvmclock up.</summary>
    public void OnPaused()
    {
        if (LibcImports.Ioctl(_fd, KvmIoctls.KvmclockCtrl, 0) >= 0) return;
        int errno = Marshal.GetLastPInvokeError();
        if (errno is not (LibcConstants.EINVAL or LibcConstants.ENOTTY))
            throw new NativeException("KVM_KVMCLOCK_CTRL", errno);
    }

    public VcpuState SaveState()
    {
        if (_deferredExit || _awaitsCompletion)
            throw new InvalidOperationException($"vCPU {Index} has port or MMIO I/O in flight: call CompletePendingIo (and answer any exit it leaves) before saving");
        GetRegisters(out var registers);
        byte[]? xsave = null, fpu = null;
        if (_vm.XsaveSize > 0) xsave = GetXsave();
        else fpu = GetFpuBytes();
        var xcrs = _vm.HasXcrs ? GetXcrs() : [];
        GetSpecialRegisters(out var special);
        var msrs = GetSaveableMsrs();
        uint mpState = GetMpState();
        var lapic = new byte[KvmLapicState.Size];
        fixed (byte* p = lapic) KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.GetLapic, p), "KVM_GET_LAPIC");
        KvmVcpuEvents events;
        KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.GetVcpuEvents, &events), "KVM_GET_VCPU_EVENTS");
        int khz = _vm.HasTscKhz ? LibcImports.Ioctl(_fd, KvmIoctls.GetTscKhz, 0) : 0;
        return new KvmVcpuState
        {
            Index = Index,
            Registers = X86StateConversion.ToState(registers),
            Special = X86StateConversion.ToState(special),
            Xsave = xsave,
            Fpu = fpu,
            Xcrs = xcrs,
            Msrs = msrs,
            Lapic = lapic,
            Events = KvmEventsConversion.ToState(events),
            MpState = mpState,
            TscKhz = (uint)Math.Max(0, khz),
        };
    }

    /// <summary>
    /// Loads a saved vCPU in the order api.rst and the kernel's checks need: TSC frequency, registers, XSAVE/FPU,
    /// XCRs, special registers (the APIC base before the APIC), MSRs, MP state (after the registers), the LAPIC,
    /// the TSC deadline (which loading the LAPIC would cancel), and the vCPU events last.
    /// </summary>
    public void RestoreState(VcpuState state)
    {
        StateCheck.NotNull(state, "vCPU state");
        if (state is not KvmVcpuState s)
            throw new StateException($"vCPU {Index}: the state was saved by the {(state is Emulate.EmulatedVcpuState ? "software CPU" : "another accelerator")}; this vCPU runs on KVM");
        StateCheck.That(s.Index == Index, "Index", $"the state is of vCPU {s.Index}, not {Index}");
        var registers = X86StateConversion.ToRegisters(s.Registers, "Registers");
        var special = X86StateConversion.ToSpecialRegisters(s.Special, "Special");
        byte[] xsaveOrFpu = CheckFloatingPoint(s);
        var xcrs = StateCheck.LengthAtMost(s.Xcrs, KvmXcrs.MaxXcrs, "Xcrs");
        for (int i = 0; i < xcrs.Length; i++) StateCheck.NotNull(xcrs[i], $"Xcrs[{i}]");
        var msrs = StateCheck.LengthAtMost(s.Msrs, MaxSavedMsrs, "Msrs");
        var seen = new HashSet<uint>();
        for (int i = 0; i < msrs.Length; i++)
        {
            StateCheck.NotNull(msrs[i], $"Msrs[{i}]");
            StateCheck.That(seen.Add(msrs[i].Index), $"Msrs[{i}]", $"MSR 0x{msrs[i].Index:x} is listed twice");
            StateCheck.That(msrs[i].Index != MsrApicBase, $"Msrs[{i}]", "the APIC base belongs in Special.ApicBase");
        }
        var lapic = StateCheck.Length(s.Lapic, KvmLapicState.Size, "Lapic");
        var events = KvmEventsConversion.FromState(s.Events);
        StateCheck.AtMost(s.MpState, KvmMpState.SipiReceived, "MpState");
        if (_deferredExit || _awaitsCompletion)
            throw new InvalidOperationException($"vCPU {Index} has port or MMIO I/O in flight; it cannot be loaded now");

        if (s.TscKhz != 0 && _vm.HasTscKhz)
        {
            int current = LibcImports.Ioctl(_fd, KvmIoctls.GetTscKhz, 0);
            if (current != (int)s.TscKhz && LibcImports.Ioctl(_fd, KvmIoctls.SetTscKhz, (nuint)s.TscKhz) < 0)
                throw new StateException($"TscKhz: this host's KVM cannot run the guest's TSC at {s.TscKhz} kHz (it runs at {current} kHz)");
        }
        SetRegisters(registers);
        if (s.Xsave is not null) SetXsave(xsaveOrFpu);
        else SetFpuBytes(xsaveOrFpu);
        if (xcrs.Length > 0) SetXcrs(xcrs);
        SetSpecialRegisters(special);
        var ordinary = msrs.Where(m => m.Index != MsrTscDeadline).ToArray();
        SetSavedMsrs(ordinary);
        SetMpState(s.MpState);
        fixed (byte* p = lapic) KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetLapic, p), "KVM_SET_LAPIC");
        SetSavedMsrs([.. msrs.Where(m => m.Index == MsrTscDeadline)]);
        // NMI pending and the SIPI vector are applied only when their VALID flags say so.
        events.Flags |= KvmVcpuEvents.ValidNmiPending | KvmVcpuEvents.ValidSipiVector;
        KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetVcpuEvents, &events), "KVM_SET_VCPU_EVENTS");
    }

    private byte[] CheckFloatingPoint(KvmVcpuState s)
    {
        if (_vm.XsaveSize > 0)
        {
            var xsave = StateCheck.NotNull(s.Xsave, "Xsave");
            StateCheck.InRange(xsave.Length, KvmXsave.MinimumSize, _vm.XsaveSize, "Xsave.Length");
            StateCheck.That(s.Fpu is null, "Fpu", "is saved besides Xsave");
            return xsave;
        }
        StateCheck.That(s.Xsave is null, "Xsave", "is saved, but this host's KVM has no XSAVE");
        return StateCheck.Length(s.Fpu, FpuSize, "Fpu");
    }

    private byte[] GetXsave()
    {
        var buffer = new byte[_vm.XsaveSize];
        // KVM_GET_XSAVE2 fills the whole area the VM uses; plain KVM_GET_XSAVE only the first 4096 bytes.
        var request = _vm.XsaveSize > KvmXsave.MinimumSize ? KvmIoctls.GetXsave2 : KvmIoctls.GetXsave;
        fixed (byte* p = buffer) KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, request, p), "KVM_GET_XSAVE");
        return buffer;
    }

    private void SetXsave(byte[] saved)
    {
        // KVM_SET_XSAVE reads the VM's whole XSAVE size: a smaller saved area (a host without the larger
        // components) is padded with zeros, which XSTATE_BV leaves in their initial state.
        var buffer = new byte[_vm.XsaveSize];
        saved.CopyTo(buffer, 0);
        fixed (byte* p = buffer) KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetXsave, p), "KVM_SET_XSAVE");
    }

    private byte[] GetFpuBytes()
    {
        GetFpu(out var fpu);
        return new ReadOnlySpan<byte>(&fpu, sizeof(FpuState)).ToArray();
    }

    private void SetFpuBytes(byte[] saved)
    {
        FpuState fpu;
        saved.CopyTo(new Span<byte>(&fpu, sizeof(FpuState)));
        SetFpu(fpu);
    }

    private XcrValue[] GetXcrs()
    {
        KvmXcrs xcrs;
        KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.GetXcrs, &xcrs), "KVM_GET_XCRS");
        int count = (int)Math.Min(xcrs.Count, (uint)KvmXcrs.MaxXcrs);
        var values = new XcrValue[count];
        for (int i = 0; i < count; i++) values[i] = new XcrValue { Index = xcrs.Xcrs[i].Xcr, Value = xcrs.Xcrs[i].Value };
        return values;
    }

    private void SetXcrs(XcrValue[] values)
    {
        KvmXcrs xcrs = default;
        xcrs.Count = (uint)values.Length;
        for (int i = 0; i < values.Length; i++) xcrs.Xcrs[i] = new KvmXcr { Xcr = values[i].Index, Value = values[i].Value };
        KvmVirtualMachine.Check(LibcImports.Ioctl(_fd, KvmIoctls.SetXcrs, &xcrs), "KVM_SET_XCRS");
    }

    /// <summary>
    /// Reads every MSR of KVM's index list this vCPU has (the list names MSRs of features the CPUID may not
    /// show; KVM_GET_MSRS stops at the first it cannot read, which is skipped and the rest read on). The APIC
    /// base is in the special registers and left out.
    /// </summary>
    private MsrValue[] GetSaveableMsrs()
    {
        var indices = _vm.MsrIndexList.Where(i => i != MsrApicBase).ToArray();
        var values = new ulong[indices.Length];
        var saved = new List<MsrValue>(indices.Length);
        int start = 0;
        while (start < indices.Length)
        {
            int done = TryTransferMsrs(indices.AsSpan(start), values.AsSpan(start), KvmIoctls.GetMsrs);
            if (done < 0) throw new NativeException("KVM_GET_MSRS", Marshal.GetLastPInvokeError());
            for (int i = 0; i < done; i++) saved.Add(new MsrValue { Index = indices[start + i], Value = values[start + i] });
            start += done + 1;   // the one at start + done could not be read: leave it out
        }
        return [.. saved];
    }

    private void SetSavedMsrs(MsrValue[] msrs)
    {
        if (msrs.Length == 0) return;
        var indices = msrs.Select(m => m.Index).ToArray();
        var values = msrs.Select(m => m.Value).ToArray();
        int done = TryTransferMsrs(indices, values, KvmIoctls.SetMsrs);
        if (done < 0) throw new NativeException("KVM_SET_MSRS", Marshal.GetLastPInvokeError());
        if (done < msrs.Length)
            throw new StateException($"Msrs: this host's KVM refuses MSR 0x{indices[done]:x} = 0x{values[done]:x}");
    }

    /// <summary>One KVM_GET_MSRS or KVM_SET_MSRS; returns how many entries KVM processed (negative on error).</summary>
    private int TryTransferMsrs(ReadOnlySpan<uint> indices, Span<ulong> values, nuint request)
    {
        int bytes = sizeof(KvmMsrsHeader) + indices.Length * sizeof(KvmMsrEntry);
        byte* buffer = (byte*)NativeMemory.AllocZeroed((nuint)bytes);
        try
        {
            ((KvmMsrsHeader*)buffer)->Count = (uint)indices.Length;
            var entries = new Span<KvmMsrEntry>(buffer + sizeof(KvmMsrsHeader), indices.Length);
            for (int i = 0; i < indices.Length; i++) entries[i] = new KvmMsrEntry { Index = indices[i], Data = values[i] };
            int done = LibcImports.Ioctl(_fd, request, buffer);
            for (int i = 0; i < Math.Max(0, done); i++) values[i] = entries[i].Data;
            return done;
        }
        finally
        {
            NativeMemory.Free(buffer);
        }
    }
}
