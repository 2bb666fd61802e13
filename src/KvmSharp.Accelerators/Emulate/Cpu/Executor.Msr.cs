using Iced.Intel;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Model-specific registers and the fast system-call instructions (SDM vol 4; vol 2 "SYSCALL", "SYSRET").
public sealed partial class Executor
{
    public const uint MsrEfer = 0xC000_0080, MsrStar = 0xC000_0081, MsrLstar = 0xC000_0082, MsrCstar = 0xC000_0083,
        MsrSyscallMask = 0xC000_0084, MsrFsBase = 0xC000_0100, MsrGsBase = 0xC000_0101, MsrKernelGsBase = 0xC000_0102,
        MsrTsc = 0x10, MsrApicBase = 0x1B, MsrSysenterCs = 0x174, MsrSysenterEsp = 0x175, MsrSysenterEip = 0x176,
        MsrPat = 0x277, MsrMiscEnable = 0x1A0, MsrMtrrDefType = 0x2FF, MsrTscAux = 0xC000_0103;

    private void ReadMsr()
    {
        ulong value = ReadMsr((uint)_gpr[CpuState.Rcx]);
        _gpr[CpuState.Rax] = value & 0xFFFF_FFFF;
        _gpr[CpuState.Rdx] = value >> 32;
    }

    private void WriteMsr() => WriteMsr((uint)_gpr[CpuState.Rcx], (_gpr[CpuState.Rdx] << 32) | (_gpr[CpuState.Rax] & 0xFFFF_FFFF));

    public ulong ReadMsr(uint index) => index switch
    {
        MsrEfer => _cpu.Efer,
        MsrStar => _cpu.Star,
        MsrLstar => _cpu.Lstar,
        MsrCstar => _cpu.Cstar,
        MsrSyscallMask => _cpu.SyscallMask,
        MsrFsBase => _cpu.Segments[CpuState.Fs].Base,
        MsrGsBase => _cpu.Segments[CpuState.Gs].Base,
        MsrKernelGsBase => _cpu.KernelGsBase,
        MsrTsc => Platform.ReadTsc() + _cpu.Tsc,
        MsrApicBase => _cpu.ApicBase,
        MsrSysenterCs => _cpu.SysenterCs,
        MsrSysenterEsp => _cpu.SysenterEsp,
        MsrSysenterEip => _cpu.SysenterEip,
        MsrPat => _cpu.Pat,
        // Unknown MSRs read as zero when written before (kept), and #GP otherwise, as on hardware.
        _ => Platform.TryReadMsr(index, out ulong owned) ? owned
            : _cpu.OtherMsrs.TryGetValue(index, out ulong v) ? v : IsKnownReadAsZero(index) ? 0UL : throw CpuException.GeneralProtection(),
    };

    public void WriteMsr(uint index, ulong value)
    {
        switch (index)
        {
            case MsrEfer:
                // LMA is read-only; keep it, and accept SCE, LME, NXE (SDM vol 3 §2.2.1).
                _cpu.Efer = (value & (SpecialRegisters.EferSyscall | SpecialRegisters.EferLongModeEnable | SpecialRegisters.EferNx))
                            | (_cpu.Efer & SpecialRegisters.EferLongModeActive);
                _mmu.FlushTlb();
                break;
            case MsrStar: _cpu.Star = value; break;
            case MsrLstar: _cpu.Lstar = value; break;
            case MsrCstar: _cpu.Cstar = value; break;
            case MsrSyscallMask: _cpu.SyscallMask = value; break;
            case MsrFsBase: _cpu.Segments.SetBase(CpuState.Fs, value); break;
            case MsrGsBase: _cpu.Segments.SetBase(CpuState.Gs, value); break;
            case MsrKernelGsBase: _cpu.KernelGsBase = value; break;
            case MsrTsc: _cpu.Tsc = value - Platform.ReadTsc(); break;
            case MsrApicBase: _cpu.ApicBase = (value & 0xF_FFFF_F800) | (_cpu.ApicBase & 0x100); break;   // base and enable; BSP is read-only, no x2APIC
            case MsrSysenterCs: _cpu.SysenterCs = value; break;
            case MsrSysenterEsp: _cpu.SysenterEsp = value; break;
            case MsrSysenterEip: _cpu.SysenterEip = value; break;
            case MsrPat: _cpu.Pat = value; break;
            default:
                if (!Platform.TryWriteMsr(index, value)) _cpu.OtherMsrs[index] = value;
                break;
        }
    }

    /// <summary>MSRs a guest may probe that we model as present and zero (MTRRs, misc enables, TSC_AUX, platform info).</summary>
    private static bool IsKnownReadAsZero(uint index) =>
        index is MsrMiscEnable or MsrMtrrDefType or MsrTscAux or 0xFE /* MTRRcap */ or 0x8B /* microcode rev */ or 0x17 /* platform id: OVMF reads it for microcode */
        || index is >= 0x200 and <= 0x26F /* MTRR ranges */;

    private void Syscall(in Instruction i)
    {
        if (!_cpu.LongModeActive || (_cpu.Efer & SpecialRegisters.EferSyscall) == 0) throw CpuException.InvalidOpcode();
        _gpr[CpuState.Rcx] = i.NextIP;
        _gpr[11] = _cpu.Rflags;
        ushort selector = (ushort)((_cpu.Star >> 32) & 0xFFFC);
        _cpu.Segments.Set(CpuState.Cs, new Segment
        {
            Selector = selector, Base = 0, Limit = 0xFFFF_FFFF, Type = 0xB, System = 1, Present = 1, Dpl = 0, Long = 1, Granularity = 1,
        });
        _cpu.Segments.Set(CpuState.Ss, new Segment
        {
            Selector = (ushort)(selector + 8), Base = 0, Limit = 0xFFFF_FFFF, Type = 0x3, System = 1, Present = 1, Dpl = 0, DefaultSize = 1, Granularity = 1,
        });
        _cpu.Rflags &= ~_cpu.SyscallMask;
        _nextRip = _cpu.Is64BitCode ? _cpu.Lstar : _cpu.Cstar;
    }

    private void Sysret(in Instruction i)
    {
        if (!_cpu.LongModeActive || (_cpu.Efer & SpecialRegisters.EferSyscall) == 0) throw CpuException.InvalidOpcode();
        RequirePrivilege();
        bool to64 = i.Code == Code.Sysretq;
        ushort baseSelector = (ushort)((_cpu.Star >> 48) & 0xFFFF);
        ushort csSelector = (ushort)((to64 ? baseSelector + 16 : baseSelector) | 3);
        _cpu.Segments.Set(CpuState.Cs, new Segment
        {
            Selector = csSelector, Base = 0, Limit = 0xFFFF_FFFF, Type = 0xB, System = 1, Present = 1, Dpl = 3,
            Long = (byte)(to64 ? 1 : 0), DefaultSize = (byte)(to64 ? 0 : 1), Granularity = 1,
        });
        var ss = _cpu.Segments[CpuState.Ss];
        ss.Selector = (ushort)((baseSelector + 8) | 3);
        ss.Dpl = 3;
        _cpu.Segments.Set(CpuState.Ss, ss);
        _cpu.Rflags = (_gpr[11] & 0x3C_7FD7) | 2;
        _nextRip = to64 ? _gpr[CpuState.Rcx] : _gpr[CpuState.Rcx] & 0xFFFF_FFFF;
    }
}
