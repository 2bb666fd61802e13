using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu.X87;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The x87 FPU entry point (SDM vol 1 ch. 8): control instructions here, data and arithmetic instructions in
// Executor.X87*.cs, and the FXSAVE/FXRSTOR image (SDM vol 2 "FXSAVE"). The transcendental instructions
// (FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X, FYL2XP1) are not implemented: #UD, reported.
public sealed partial class Executor
{
    private const int FxsaveSize = 512;

    private bool TryExecuteFpu(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            // Control instructions: the N forms do not wait for pending exceptions (SDM vol 1 §8.3.11).
            case Mnemonic.Fninit: BeginX87(waiting: false); X87Initialize(); return true;
            case Mnemonic.Finit: BeginX87(waiting: true); X87Initialize(); return true;
            case Mnemonic.Fnclex: BeginX87(waiting: false); _cpu.FpuStatus &= 0x7F00; return true;
            case Mnemonic.Fclex: BeginX87(waiting: true); _cpu.FpuStatus &= 0x7F00; return true;
            case Mnemonic.Wait:
                // WAIT faults #NM only when both MP and TS are set (SDM vol 3 §2.5, Table 2-2).
                if ((_cpu.Cr0 & (2 | 8)) == (2 | 8)) throw new CpuException(ExceptionVector.DeviceNotAvailable);
                if ((_cpu.FpuStatus & FswErrorSummary) != 0 && (_cpu.Cr0 & Native.X86.SpecialRegisters.Cr0NumericError) != 0)
                    throw new CpuException(ExceptionVector.FloatingPoint);
                return true;
            case Mnemonic.Fnstcw: case Mnemonic.Fstcw:
                BeginX87(waiting: i.Mnemonic == Mnemonic.Fstcw);
                _mmu.Write(MemoryLinear(in i), 2, _cpu.FpuControl);
                return true;
            case Mnemonic.Fldcw:
                BeginX87(waiting: true);
                _cpu.FpuControl = (ushort)_mmu.Read(MemoryLinear(in i), 2);
                UpdateErrorSummary();
                return true;
            case Mnemonic.Fnstsw: case Mnemonic.Fstsw:
                BeginX87(waiting: i.Mnemonic == Mnemonic.Fstsw);
                if (i.Op0Kind == OpKind.Register) RegisterFile.Write(_gpr, Register.AX, _cpu.FpuStatus);
                else _mmu.Write(MemoryLinear(in i), 2, _cpu.FpuStatus);
                return true;
            case Mnemonic.Fnstenv: case Mnemonic.Fstenv: BeginX87(i.Mnemonic == Mnemonic.Fstenv); X87StoreEnvironment(in i); return true;
            case Mnemonic.Fldenv: BeginX87(waiting: true); LoadX87Environment(MemoryLinear(in i), WideEnvironment(in i)); return true;
            case Mnemonic.Fnsave: case Mnemonic.Fsave: BeginX87(i.Mnemonic == Mnemonic.Fsave); X87Save(in i); return true;
            case Mnemonic.Frstor: BeginX87(waiting: true); X87Restore(in i); return true;
            case Mnemonic.Fxsave: case Mnemonic.Fxsave64: FxSave(in i); return true;
            case Mnemonic.Fxrstor: case Mnemonic.Fxrstor64: FxRestore(in i); return true;
            default: return TryExecuteX87(in i);
        }
    }

    private bool TryExecuteX87(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Fld: case Mnemonic.Fild: case Mnemonic.Fbld: case Mnemonic.Fld1: case Mnemonic.Fldz: case Mnemonic.Fldpi:
            case Mnemonic.Fldl2e: case Mnemonic.Fldl2t: case Mnemonic.Fldlg2: case Mnemonic.Fldln2:
                BeginX87(waiting: true); X87Load(in i); return true;
            case Mnemonic.Fst: case Mnemonic.Fist: BeginX87(waiting: true); X87Store(in i, pop: false); return true;
            case Mnemonic.Fstp: case Mnemonic.Fistp: case Mnemonic.Fisttp: case Mnemonic.Fbstp:
                BeginX87(waiting: true); X87Store(in i, pop: true); return true;
            case Mnemonic.Fxch: BeginX87(waiting: true); X87Exchange(in i); return true;
            case Mnemonic.Fcmovb: case Mnemonic.Fcmove: case Mnemonic.Fcmovbe: case Mnemonic.Fcmovu:
            case Mnemonic.Fcmovnb: case Mnemonic.Fcmovne: case Mnemonic.Fcmovnbe: case Mnemonic.Fcmovnu:
                BeginX87(waiting: true); X87ConditionalMove(in i); return true;
            case Mnemonic.Ffree: case Mnemonic.Ffreep: case Mnemonic.Fincstp: case Mnemonic.Fdecstp: case Mnemonic.Fnop:
                BeginX87(waiting: true); X87StackControl(in i); return true;
        }
        if (!TryX87Arithmetic(in i, out var operation, out bool pop))
            return TryX87Other(in i);
        BeginX87(waiting: true);
        X87Binary(in i, operation, pop);
        return true;
    }

    private static bool TryX87Arithmetic(in Instruction i, out X87Operation operation, out bool pop)
    {
        (operation, pop) = i.Mnemonic switch
        {
            Mnemonic.Fadd or Mnemonic.Fiadd => (X87Operation.Add, false),
            Mnemonic.Faddp => (X87Operation.Add, true),
            Mnemonic.Fsub or Mnemonic.Fisub => (X87Operation.Subtract, false),
            Mnemonic.Fsubp => (X87Operation.Subtract, true),
            Mnemonic.Fsubr or Mnemonic.Fisubr => (X87Operation.SubtractReverse, false),
            Mnemonic.Fsubrp => (X87Operation.SubtractReverse, true),
            Mnemonic.Fmul or Mnemonic.Fimul => (X87Operation.Multiply, false),
            Mnemonic.Fmulp => (X87Operation.Multiply, true),
            Mnemonic.Fdiv or Mnemonic.Fidiv => (X87Operation.Divide, false),
            Mnemonic.Fdivp => (X87Operation.Divide, true),
            Mnemonic.Fdivr or Mnemonic.Fidivr => (X87Operation.DivideReverse, false),
            Mnemonic.Fdivrp => (X87Operation.DivideReverse, true),
            _ => ((X87Operation)255, false),
        };
        return operation != (X87Operation)255;
    }

    private bool TryX87Other(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Fsqrt: case Mnemonic.Frndint: case Mnemonic.Fchs: case Mnemonic.Fabs:
                BeginX87(waiting: true); X87Unary(in i); return true;
            case Mnemonic.Fscale: case Mnemonic.Fprem: case Mnemonic.Fprem1: BeginX87(waiting: true); X87WithSt1(in i); return true;
            case Mnemonic.Fxtract: BeginX87(waiting: true); X87Extract(in i); return true;
            case Mnemonic.Fxam: BeginX87(waiting: true); X87Examine(in i); return true;
            case Mnemonic.Fcom: case Mnemonic.Ficom: case Mnemonic.Ftst: BeginX87(waiting: true); X87Compare(in i, quiet: false, 0, eflags: false); return true;
            case Mnemonic.Fcomp: case Mnemonic.Ficomp: BeginX87(waiting: true); X87Compare(in i, quiet: false, 1, eflags: false); return true;
            case Mnemonic.Fcompp: BeginX87(waiting: true); X87Compare(in i, quiet: false, 2, eflags: false); return true;
            case Mnemonic.Fucom: BeginX87(waiting: true); X87Compare(in i, quiet: true, 0, eflags: false); return true;
            case Mnemonic.Fucomp: BeginX87(waiting: true); X87Compare(in i, quiet: true, 1, eflags: false); return true;
            case Mnemonic.Fucompp: BeginX87(waiting: true); X87Compare(in i, quiet: true, 2, eflags: false); return true;
            case Mnemonic.Fcomi: BeginX87(waiting: true); X87Compare(in i, quiet: false, 0, eflags: true); return true;
            case Mnemonic.Fcomip: BeginX87(waiting: true); X87Compare(in i, quiet: false, 1, eflags: true); return true;
            case Mnemonic.Fucomi: BeginX87(waiting: true); X87Compare(in i, quiet: true, 0, eflags: true); return true;
            case Mnemonic.Fucomip: BeginX87(waiting: true); X87Compare(in i, quiet: true, 1, eflags: true); return true;
            default: return false;
        }
    }

    /// <summary>x87 instructions fault with #NM when CR0.EM or CR0.TS is set (SDM vol 3 §2.5).</summary>
    private void RequireFpu()
    {
        if ((_cpu.Cr0 & (4 | 8)) != 0) throw new CpuException(ExceptionVector.DeviceNotAvailable);
    }

    /// <summary>
    /// The 512-byte area, 16-byte aligned (#GP), checked up front for the access the instruction makes so a
    /// page fault comes before any state changes: FXSAVE writes it, FXRSTOR only reads it (Linux restores
    /// from init_fpstate, which is read-only after boot).
    /// </summary>
    private ulong FxArea(in Instruction i, AccessKind access)
    {
        RequireFpu();
        ulong address = MemoryLinear(in i);
        if ((address & 15) != 0) throw CpuException.GeneralProtection();
        _mmu.Translate(address, access);
        _mmu.Translate(address + FxsaveSize - 1, access);
        return address;
    }

    private void FxSave(in Instruction i)
    {
        ulong area = FxArea(in i, AccessKind.Write);
        // Abridged tag word: one bit per register, 1 = not empty (SDM vol 1 §10.5.1.1).
        ulong abridgedTag = 0;
        for (int n = 0; n < 8; n++) if ((_cpu.FpuTag >> (2 * n) & 3) != 3) abridgedTag |= 1UL << n;
        _mmu.Write(area, 8, _cpu.FpuControl | ((ulong)_cpu.FpuStatus << 16) | (abridgedTag << 32) | ((ulong)_cpu.FpuOpcode << 48));
        // FXSAVE64 stores 64-bit pointers; the other form 32-bit offsets with their selectors (SDM vol 1 §10.5.1, Tables 10-2, 10-3).
        bool pointers64 = i.Mnemonic == Mnemonic.Fxsave64;
        _mmu.Write(area + 8, 8, pointers64 ? _cpu.FpuLastIp : (_cpu.FpuLastIp & 0xFFFF_FFFF) | (ulong)_cpu.FpuLastCs << 32);
        _mmu.Write(area + 16, 8, pointers64 ? _cpu.FpuLastDp : (_cpu.FpuLastDp & 0xFFFF_FFFF) | (ulong)_cpu.FpuLastDs << 32);
        _mmu.Write(area + 24, 8, _cpu.Mxcsr | (0xFFFFUL << 32));       // MXCSR, MXCSR_MASK
        // ST0–ST7 (MM0–MM7): 10 bytes each in a 16-byte slot; bytes 10–15 are reserved and left as they were
        // (SDM vol 2 "FXSAVE", Table 3-43; Unicorn and hardware do not write them either).
        for (int st = 0; st < 8; st++)
        {
            var value = St(st);
            _mmu.Write(area + 32 + (ulong)st * 16, 8, value.Significand);
            _mmu.Write(area + 40 + (ulong)st * 16, 2, value.SignExponent);
        }
        // Outside 64-bit mode XMM8–15 do not exist and their slots (bytes 288–415) are reserved: left as they were,
        // as Unicorn does.
        int count = _cpu.Is64BitCode ? 16 : 8;
        for (int n = 0; n < count; n++)
        {
            ulong slot = area + 160 + (ulong)n * 16;
            _mmu.Write(slot, 8, _cpu.Xmm[2 * n]);
            _mmu.Write(slot + 8, 8, _cpu.Xmm[2 * n + 1]);
        }
    }

    private void FxRestore(in Instruction i)
    {
        ulong area = FxArea(in i, AccessKind.Read);
        ulong mxcsr = _mmu.Read(area + 24, 4);
        if ((mxcsr & ~0xFFFFUL) != 0) throw CpuException.GeneralProtection();   // reserved MXCSR bits (SDM "FXRSTOR")
        ulong head = _mmu.Read(area, 8);
        _cpu.FpuControl = (ushort)head;
        _cpu.FpuStatus = (ushort)(head >> 16);
        _cpu.FpuOpcode = (ushort)(head >> 48 & 0x7FF);
        // The abridged tag byte expands to the full tag word: 0 = empty (11b), 1 = in use (SDM vol 1 §10.5.1.1).
        ushort tag = 0;
        for (int n = 0; n < 8; n++) if ((head >> (32 + n) & 1) == 0) tag |= (ushort)(3 << (2 * n));
        _cpu.FpuTag = tag;
        ulong ip = _mmu.Read(area + 8, 8), dp = _mmu.Read(area + 16, 8);
        bool pointers64 = i.Mnemonic == Mnemonic.Fxrstor64;
        (_cpu.FpuLastIp, _cpu.FpuLastDp) = pointers64 ? (ip, dp) : (ip & 0xFFFF_FFFF, dp & 0xFFFF_FFFF);
        if (!pointers64) (_cpu.FpuLastCs, _cpu.FpuLastDs) = ((ushort)(ip >> 32), (ushort)(dp >> 32));
        for (int st = 0; st < 8; st++)
            _cpu.Fpr[Physical(st)] = new Float80(_mmu.Read(area + 32 + (ulong)st * 16, 8), (ushort)_mmu.Read(area + 40 + (ulong)st * 16, 2));
        _cpu.Mxcsr = (uint)mxcsr;
        int count = _cpu.Is64BitCode ? 16 : 8;
        for (int n = 0; n < count; n++)
        {
            ulong slot = area + 160 + (ulong)n * 16;
            _cpu.Xmm[2 * n] = _mmu.Read(slot, 8);
            _cpu.Xmm[2 * n + 1] = _mmu.Read(slot + 8, 8);
        }
    }
}
