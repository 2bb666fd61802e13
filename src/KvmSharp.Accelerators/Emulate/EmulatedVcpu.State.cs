using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Native.X86;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate;

// Save and load of a software-CPU vCPU, and what a pause asks of it. Called on the vCPU's own thread while it is
// parked (outside Run), so nothing here races with the core.
public sealed partial class EmulatedVcpu
{
    /// <summary>MSRs the state carries elsewhere (registers, segment bases, TSC offset, the APIC timer): refused in the MSR list.</summary>
    private static readonly uint[] MsrsKeptElsewhere =
    [
        Executor.MsrEfer, Executor.MsrFsBase, Executor.MsrGsBase, Executor.MsrTsc, Executor.MsrApicBase, Platform.VcpuPlatform.MsrTscDeadline,
    ];

    private const int MaxSavedMsrs = 4096, MaxPendingMmioWrites = 64;

    /// <summary>
    /// Finishes the exit the VMM has answered: an IN's register gets its data, an OUT moves RIP on, an MMIO read's
    /// value is kept for the instruction's rerun (<see cref="CpuCore.CompletedMmioRead"/>). Afterwards the saved
    /// state holds no half-done instruction.
    /// </summary>
    public void CompletePendingIo() => CompletePendingExit();

    /// <summary>Nothing to tell: the software CPU has no paravirtual pause notice (KVM's kvmclock "paused" flag).</summary>
    public void OnPaused() { }

    public VcpuState SaveState()
    {
        CompletePendingExit();   // an answered exit is part of the instruction before it: finish it first
        GetRegisters(out var registers);
        GetSpecialRegisters(out var special);
        var fpr = new Float80State[8];
        for (int i = 0; i < 8; i++) fpr[i] = new Float80State { Significand = _cpu.Fpr[i].Significand, SignExponent = _cpu.Fpr[i].SignExponent };
        return new EmulatedVcpuState
        {
            Index = Index,
            Registers = X86StateConversion.ToState(registers),
            Special = X86StateConversion.ToState(special),
            DebugRegisters = _core.Executor.DebugRegisters.ToArray(),
            Msrs = SaveMsrs(),
            TscOffset = _cpu.Tsc,
            X87 = new X87State
            {
                Registers = fpr, Control = _cpu.FpuControl, Status = _cpu.FpuStatus, Tag = _cpu.FpuTag,
                LastInstructionPointer = _cpu.FpuLastIp, LastDataPointer = _cpu.FpuLastDp,
                LastCs = _cpu.FpuLastCs, LastDs = _cpu.FpuLastDs, Opcode = _cpu.FpuOpcode,
            },
            Xmm = [.. _cpu.Xmm],
            Mxcsr = _cpu.Mxcsr,
            Apic = _platform.Apic.SaveState(),
            NmiBlocked = _cpu.NmiBlocked,
            InterruptShadow = _core.InInterruptShadow,
            Halted = _core.Halted,
            CompletedMmioRead = _core.CompletedMmioRead is { } read ? new MmioAccessState { Address = read.Address, Size = read.Size, Value = read.Value } : null,
            PendingMmioWrites = [.. _core.PendingMmioWrites.Select(w => new MmioAccessState { Address = w.Address, Size = w.Size, Value = w.Value })],
        };
    }

    private MsrValue[] SaveMsrs()
    {
        var msrs = new List<MsrValue>
        {
            new() { Index = Executor.MsrStar, Value = _cpu.Star }, new() { Index = Executor.MsrLstar, Value = _cpu.Lstar },
            new() { Index = Executor.MsrCstar, Value = _cpu.Cstar }, new() { Index = Executor.MsrSyscallMask, Value = _cpu.SyscallMask },
            new() { Index = Executor.MsrKernelGsBase, Value = _cpu.KernelGsBase }, new() { Index = Executor.MsrSysenterCs, Value = _cpu.SysenterCs },
            new() { Index = Executor.MsrSysenterEsp, Value = _cpu.SysenterEsp }, new() { Index = Executor.MsrSysenterEip, Value = _cpu.SysenterEip },
            new() { Index = Executor.MsrPat, Value = _cpu.Pat },
        };
        foreach (var (index, value) in _cpu.OtherMsrs.OrderBy(m => m.Key)) msrs.Add(new MsrValue { Index = index, Value = value });
        return [.. msrs];
    }

    /// <summary>
    /// Loads a saved vCPU. Every field is checked before anything changes; a state of the KVM accelerator, of
    /// another vCPU, or with a value outside what the CPU can hold is refused with a <see cref="StateException"/>.
    /// Afterwards the TLB and the decoded blocks are flushed and pending events are looked at before the first block.
    /// </summary>
    public void RestoreState(VcpuState state)
    {
        StateCheck.NotNull(state, "vCPU state");
        if (state is not EmulatedVcpuState s)
            throw new StateException($"vCPU {Index}: the state was saved by the {(state is Kvm.KvmVcpuState ? "KVM" : "another")} accelerator; this vCPU runs on the software CPU");
        StateCheck.That(s.Index == Index, "Index", $"the state is of vCPU {s.Index}, not {Index}");
        var registers = X86StateConversion.ToRegisters(s.Registers, "Registers");
        var special = X86StateConversion.ToSpecialRegisters(s.Special, "Special");
        StateCheck.That(s.Special.InterruptBitmap.All(w => w == 0), "Special.InterruptBitmap", "is KVM's injected interrupt; the software CPU has none");
        var debug = StateCheck.Length(s.DebugRegisters, 8, "DebugRegisters");
        var msrs = CheckMsrs(s.Msrs);
        var x87 = StateCheck.NotNull(s.X87, "X87");
        var fpr = StateCheck.Length(x87.Registers, 8, "X87.Registers");
        for (int i = 0; i < 8; i++) StateCheck.NotNull(fpr[i], $"X87.Registers[{i}]");
        for (int i = 0; i < 8; i++)
            StateCheck.That(((x87.Tag >> (2 * i)) & 3) is 0 or 3, "X87.Tag", $"register {i} is tagged {(x87.Tag >> (2 * i)) & 3}; only 00b (full) and 11b (empty) are kept");
        StateCheck.AtMost(x87.Opcode, 0x7FF, "X87.Opcode");
        var xmm = StateCheck.Length(s.Xmm, 32, "Xmm");
        StateCheck.AtMost(s.Mxcsr, 0xFFFF, "Mxcsr");
        var completedRead = s.CompletedMmioRead is { } read ? CheckMmio(read, "CompletedMmioRead") : ((ulong, int, ulong)?)null;
        var writes = StateCheck.LengthAtMost(s.PendingMmioWrites, MaxPendingMmioWrites, "PendingMmioWrites");
        var pendingWrites = new (ulong, int, ulong)[writes.Length];
        for (int i = 0; i < writes.Length; i++) pendingWrites[i] = CheckMmio(writes[i], $"PendingMmioWrites[{i}]");

        _platform.Apic.RestoreState(s.Apic);   // checks its own state first, then loads it: the last thing that can refuse

        SetRegisters(registers);
        SetSpecialRegisters(special);
        debug.CopyTo(_core.Executor.DebugRegisters);
        (_cpu.Star, _cpu.Lstar, _cpu.Cstar, _cpu.SyscallMask, _cpu.KernelGsBase) = (0, 0, 0, 0, 0);
        (_cpu.SysenterCs, _cpu.SysenterEsp, _cpu.SysenterEip, _cpu.Pat) = (0, 0, 0, 0x0007040600070406);
        _cpu.OtherMsrs.Clear();
        foreach (var msr in msrs) LoadMsr(msr.Index, msr.Value);
        _cpu.Tsc = s.TscOffset;
        for (int i = 0; i < 8; i++) _cpu.Fpr[i] = new Cpu.X87.Float80(fpr[i].Significand, fpr[i].SignExponent);
        (_cpu.FpuControl, _cpu.FpuStatus, _cpu.FpuTag, _cpu.FpuOpcode) = (x87.Control, x87.Status, x87.Tag, x87.Opcode);
        (_cpu.FpuLastIp, _cpu.FpuLastDp, _cpu.FpuLastCs, _cpu.FpuLastDs) = (x87.LastInstructionPointer, x87.LastDataPointer, x87.LastCs, x87.LastDs);
        xmm.CopyTo(_cpu.Xmm, 0);
        _cpu.Mxcsr = s.Mxcsr;
        _cpu.NmiBlocked = s.NmiBlocked;
        _pending = PendingExit.None;
        _core.Halted = s.Halted;
        _core.InInterruptShadow = s.InterruptShadow;
        _core.CompletedMmioRead = completedRead;
        _core.PendingMmioWrites = pendingWrites;
        _core.FlushCaches();
    }

    private static MsrValue[] CheckMsrs(MsrValue[]? saved)
    {
        var msrs = StateCheck.LengthAtMost(saved, MaxSavedMsrs, "Msrs");
        var seen = new HashSet<uint>();
        for (int i = 0; i < msrs.Length; i++)
        {
            var msr = StateCheck.NotNull(msrs[i], $"Msrs[{i}]");
            StateCheck.That(seen.Add(msr.Index), $"Msrs[{i}]", $"MSR 0x{msr.Index:x} is listed twice");
            StateCheck.That(!MsrsKeptElsewhere.Contains(msr.Index), $"Msrs[{i}]", $"MSR 0x{msr.Index:x} belongs in another field of the state");
        }
        return msrs;
    }

    /// <summary>Sets an MSR as the state holds it, without the side effects a guest WRMSR has (kvmclock writes guest memory).</summary>
    private void LoadMsr(uint index, ulong value)
    {
        switch (index)
        {
            case Executor.MsrStar: _cpu.Star = value; break;
            case Executor.MsrLstar: _cpu.Lstar = value; break;
            case Executor.MsrCstar: _cpu.Cstar = value; break;
            case Executor.MsrSyscallMask: _cpu.SyscallMask = value; break;
            case Executor.MsrKernelGsBase: _cpu.KernelGsBase = value; break;
            case Executor.MsrSysenterCs: _cpu.SysenterCs = value; break;
            case Executor.MsrSysenterEsp: _cpu.SysenterEsp = value; break;
            case Executor.MsrSysenterEip: _cpu.SysenterEip = value; break;
            case Executor.MsrPat: _cpu.Pat = value; break;
            default: _cpu.OtherMsrs[index] = value; break;
        }
    }

    private static (ulong Address, int Size, ulong Value) CheckMmio(MmioAccessState? access, string field)
    {
        access = StateCheck.NotNull(access, field);
        StateCheck.That(access.Size is 1 or 2 or 4 or 8, $"{field}.Size", $"{access.Size} is not 1, 2, 4 or 8");
        StateCheck.That(access.Size == 8 || access.Value >> (access.Size * 8) == 0, $"{field}.Value", $"does not fit in {access.Size} bytes");
        return (access.Address, access.Size, access.Value);
    }

    /// <summary>Makes every cached translation read-only for writes (dirty logging); only while this vCPU is outside <see cref="Run"/>.</summary>
    internal void DropWriteAccess() => _core.Mmu.DropWriteAccess();

    /// <summary>True while a thread is inside <see cref="Run"/>.</summary>
    internal bool IsRunning => Volatile.Read(ref _running) != 0;
}
