using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate;

/// <summary>
/// A vCPU run by the software CPU. Exits look like KVM's: port I/O and MMIO carry their data in a small
/// buffer owned by the vCPU; an IN or MMIO read completes when <see cref="Run"/> is called again.
/// As with KVM's in-kernel irqchip, the platform's own registers (local APIC, chipset) never leave
/// <see cref="Run"/>, HLT sleeps inside it until an interrupt can be taken, and an application
/// processor waits inside it for INIT/SIPI; a <see cref="Kick"/> ends any of these waits.
/// </summary>
public sealed partial class EmulatedVcpu : IVcpu
{
    private readonly CpuState _cpu = new();
    private readonly CpuCore _core;
    private readonly VcpuPlatform _platform;
    private readonly byte[] _exitData = new byte[8];
    private PendingExit _pending;
    private int _running;

    private enum PendingExit : byte { None, PortIn, PortOut, MmioRead }

    internal EmulatedVcpu(EmulatedVirtualMachine vm, int index, int vcpuCount)
    {
        Index = index;
        _platform = new VcpuPlatform(vm.Platform, index, _cpu, vm.Memory, vm.Physical);
        _core = new CpuCore(_cpu, vm.Physical, new EmulatedCpuModel(index, vcpuCount, vm.Platform.Clock, _platform), vm.TranslatorMode);
        _core.Executor.Unimplemented.FirstSeen = vm.ReportUnimplemented;
        _core.PlatformIo = _platform;
        _core.Events = this;
        _platform.Apic.Attach(this);
        vm.Platform.InstructionClock?.Add(this);
        ResetToRealMode();
    }

    public int Index { get; }

    /// <summary>Instructions this vCPU has retired.</summary>
    public ulong InstructionsRetired => _core.InstructionsRetired;

    public IDisposable AttachToCurrentThread() => new NoAttachment();

    public void Kick()
    {
        _core.Kick();
        _wake.Set();
    }

    public VcpuExit Run()
    {
        Volatile.Write(ref _running, 1);
        try
        {
            return RunUntilExit();
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    private VcpuExit RunUntilExit()
    {
        CompletePendingExit();
        while (true)
        {
            if (_platform.Apic.WaitingForStartup)
            {
                if (!WaitForStartup()) return new VcpuExit { Reason = VcpuExitReason.Kicked };
                continue;
            }
            var stop = _core.Run();
            switch (stop)
            {
                case CoreStop.PortIo:
                {
                    if (TryPlatformPort()) continue;
                    var io = _core.Executor.PendingIo;
                    var data = _exitData.AsSpan(0, io.Size);
                    if (io.IsWrite)
                    {
                        BitConverter.TryWriteBytes(_exitData, io.Data);
                        _pending = PendingExit.PortOut;
                        return new VcpuExit { Reason = VcpuExitReason.IoOut, Address = io.Port, Size = io.Size, Count = 1, Data = data };
                    }
                    data.Clear();
                    _pending = PendingExit.PortIn;
                    return new VcpuExit { Reason = VcpuExitReason.IoIn, Address = io.Port, Size = io.Size, Count = 1, Data = data };
                }
                case CoreStop.MmioRead:
                {
                    var (address, size, _) = _core.MmioAccess;
                    _exitData.AsSpan().Clear();
                    _pending = PendingExit.MmioRead;
                    return new VcpuExit { Reason = VcpuExitReason.MmioRead, Address = address, Size = size, Count = 1, Data = _exitData.AsSpan(0, size) };
                }
                case CoreStop.MmioWrite:
                {
                    var (address, size, value) = _core.MmioAccess;
                    BitConverter.TryWriteBytes(_exitData, value);
                    return new VcpuExit { Reason = VcpuExitReason.MmioWrite, Address = address, Size = size, Count = 1, Data = _exitData.AsSpan(0, size) };
                }
                case CoreStop.Halt:
                    if (!WaitWhileHalted()) return new VcpuExit { Reason = VcpuExitReason.Kicked };
                    continue;
                case CoreStop.Init:
                    continue;   // the APIC now waits for SIPI; the state is reset there
                case CoreStop.Shutdown: return new VcpuExit { Reason = VcpuExitReason.Shutdown };
                case CoreStop.Kicked: return new VcpuExit { Reason = VcpuExitReason.Kicked };
                default: return new VcpuExit { Reason = VcpuExitReason.Failed, Message = _core.FailureMessage ?? "the software CPU stopped" };
            }
        }
    }

    /// <summary>Port I/O the chipset owns completes here, without an exit.</summary>
    private bool TryPlatformPort()
    {
        ref readonly var io = ref _core.Executor.PendingIo;
        if (io.IsWrite)
        {
            if (!_platform.TryWritePort(io.Port, io.Size, (uint)io.Data)) return false;
            _core.Executor.CompletePortOut();
            _core.RequestEventCheck();
            return true;
        }
        if (!_platform.TryReadPort(io.Port, io.Size, out uint value)) return false;
        _core.Executor.CompletePortIn(value);
        return true;
    }

    private void CompletePendingExit()
    {
        switch (_pending)
        {
            case PendingExit.PortIn: _core.Executor.CompletePortIn(BitConverter.ToUInt64(_exitData)); break;
            case PendingExit.PortOut: _core.Executor.CompletePortOut(); break;
            case PendingExit.MmioRead: _core.CompleteMmioRead(BitConverter.ToUInt64(_exitData)); break;
        }
        _pending = PendingExit.None;
    }

    /// <summary>The state after RESET (SDM vol 3 §9.1.1): real mode, CS:IP = F000:FFF0.</summary>
    private void ResetToRealMode()
    {
        for (int i = 0; i < 6; i++)
            _cpu.Segments.Set(i, new Segment { Limit = 0xFFFF, Type = 3, Present = 1, System = 1 });
        _cpu.Segments.Set(CpuState.Cs, new Segment { Selector = 0xF000, Base = 0xFFFF0000, Limit = 0xFFFF, Type = 0xB, Present = 1, System = 1 });
        _cpu.Rip = 0xFFF0;
        _cpu.Gdt = new DescriptorTable { Limit = 0xFFFF };
        _cpu.Idt = new DescriptorTable { Limit = 0xFFFF };
        _cpu.Ldt = new Segment { Limit = 0xFFFF, Type = 2, Present = 1 };
        _cpu.Tr = new Segment { Limit = 0xFFFF, Type = 0xB, Present = 1 };
        if (Index == 0) _cpu.ApicBase |= 1 << 8;   // the bootstrap processor flag
    }

    public void GetRegisters(out Registers registers)
    {
        var g = _cpu.Gpr;
        registers = new Registers
        {
            Rax = g[0], Rcx = g[1], Rdx = g[2], Rbx = g[3], Rsp = g[4], Rbp = g[5], Rsi = g[6], Rdi = g[7],
            R8 = g[8], R9 = g[9], R10 = g[10], R11 = g[11], R12 = g[12], R13 = g[13], R14 = g[14], R15 = g[15],
            Rip = _cpu.Rip, Rflags = _cpu.Rflags,
        };
    }

    public void SetRegisters(in Registers r)
    {
        var g = _cpu.Gpr;
        (g[0], g[1], g[2], g[3], g[4], g[5], g[6], g[7]) = (r.Rax, r.Rcx, r.Rdx, r.Rbx, r.Rsp, r.Rbp, r.Rsi, r.Rdi);
        (g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]) = (r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15);
        _cpu.Rip = r.Rip;
        _cpu.Rflags = r.Rflags;
    }

    public void GetSpecialRegisters(out SpecialRegisters s)
    {
        s = new SpecialRegisters
        {
            Es = _cpu.Segments[CpuState.Es], Cs = _cpu.Segments[CpuState.Cs], Ss = _cpu.Segments[CpuState.Ss],
            Ds = _cpu.Segments[CpuState.Ds], Fs = _cpu.Segments[CpuState.Fs], Gs = _cpu.Segments[CpuState.Gs],
            Ldt = _cpu.Ldt, Tr = _cpu.Tr, Gdt = _cpu.Gdt, Idt = _cpu.Idt,
            Cr0 = _cpu.Cr0, Cr2 = _cpu.Cr2, Cr3 = _cpu.Cr3, Cr4 = _cpu.Cr4, Cr8 = _cpu.Cr8, Efer = _cpu.Efer, ApicBase = _cpu.ApicBase,
        };
    }

    public void SetSpecialRegisters(in SpecialRegisters s)
    {
        _cpu.Segments.Set(CpuState.Es, s.Es);
        _cpu.Segments.Set(CpuState.Cs, s.Cs);
        _cpu.Segments.Set(CpuState.Ss, s.Ss);
        _cpu.Segments.Set(CpuState.Ds, s.Ds);
        _cpu.Segments.Set(CpuState.Fs, s.Fs);
        _cpu.Segments.Set(CpuState.Gs, s.Gs);
        (_cpu.Ldt, _cpu.Tr, _cpu.Gdt, _cpu.Idt) = (s.Ldt, s.Tr, s.Gdt, s.Idt);
        (_cpu.Cr0, _cpu.Cr2, _cpu.Cr3, _cpu.Cr4, _cpu.Cr8, _cpu.Efer, _cpu.ApicBase) = (s.Cr0, s.Cr2, s.Cr3, s.Cr4, s.Cr8, s.Efer, s.ApicBase);
        _core.Mmu.FlushTlb();
    }

    /// <summary>
    /// The kvm_fpu image: ST(0)–ST(7) in 16-byte slots (FXSAVE order), the abridged tag byte, the last
    /// instruction/data pointers and opcode, XMM0–15 and MXCSR (SDM vol 1 §10.5.1).
    /// </summary>
    public unsafe void GetFpu(out FpuState fpu)
    {
        fpu = new FpuState
        {
            Fcw = _cpu.FpuControl, Fsw = _cpu.FpuStatus, LastOpcode = _cpu.FpuOpcode,
            LastIp = _cpu.FpuLastIp, LastDp = _cpu.FpuLastDp, Mxcsr = _cpu.Mxcsr,
        };
        int top = (_cpu.FpuStatus >> 11) & 7;
        for (int n = 0; n < 8; n++)
        {
            if ((_cpu.FpuTag >> (2 * n) & 3) != 3) fpu.Ftwx |= (byte)(1 << n);
            var value = _cpu.Fpr[(top + n) & 7];
            fixed (byte* slot = &fpu.Fpr[n * 16])
            {
                *(ulong*)slot = value.Significand;
                *(ushort*)(slot + 8) = value.SignExponent;
            }
        }
        fixed (byte* xmm = fpu.Xmm)
            for (int n = 0; n < 32; n++) ((ulong*)xmm)[n] = _cpu.Xmm[n];
    }

    public unsafe void SetFpu(in FpuState fpu)
    {
        _cpu.FpuControl = fpu.Fcw;
        _cpu.FpuStatus = fpu.Fsw;
        _cpu.FpuOpcode = (ushort)(fpu.LastOpcode & 0x7FF);
        (_cpu.FpuLastIp, _cpu.FpuLastDp) = (fpu.LastIp, fpu.LastDp);
        _cpu.Mxcsr = fpu.Mxcsr;
        int top = (fpu.Fsw >> 11) & 7;
        ushort tag = 0;
        for (int n = 0; n < 8; n++)
        {
            if ((fpu.Ftwx >> n & 1) == 0) tag |= (ushort)(3 << (2 * n));
            fixed (byte* slot = &fpu.Fpr[n * 16])
                _cpu.Fpr[(top + n) & 7] = new Cpu.X87.Float80(*(ulong*)slot, *(ushort*)(slot + 8));
        }
        _cpu.FpuTag = tag;
        fixed (byte* xmm = fpu.Xmm)
            for (int n = 0; n < 32; n++) _cpu.Xmm[n] = ((ulong*)xmm)[n];
    }

    public void GetMsrs(ReadOnlySpan<uint> indices, Span<ulong> values)
    {
        for (int i = 0; i < indices.Length; i++) values[i] = _core.Executor.ReadMsr(indices[i]);
    }

    public void SetMsrs(ReadOnlySpan<uint> indices, ReadOnlySpan<ulong> values)
    {
        for (int i = 0; i < indices.Length; i++) _core.Executor.WriteMsr(indices[i], values[i]);
    }

    public ulong? TranslateLinearAddress(ulong linear)
    {
        try { return _core.Mmu.Translate(linear, AccessKind.Read); }
        catch (CpuException) { return null; }
    }

    public void Dispose() { }

    private sealed class NoAttachment : IDisposable
    {
        public void Dispose() { }
    }
}
