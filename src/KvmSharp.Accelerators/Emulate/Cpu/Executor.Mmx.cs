using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// MMX (SDM vol 1 chapter 9): the eight 64-bit registers, the x87 state change MMX instructions make, EMMS,
// and the MMX-only instructions. The integer operations themselves are shared with SSE2 (Packed in
// Executor.Sse.cs runs the 128-bit operation on zero-extended MMX operands).
public sealed partial class Executor
{
    /// <summary>
    /// MM0–MM7 are the significands (bits 63:0) of the x87 data registers R0–R7 (SDM vol 1 §9.2.1), so
    /// FXSAVE/FXRSTOR and x87 code see one state. A read leaves the register as it is.
    /// </summary>
    private ulong MmxValue(int n) => _cpu.Fpr[n & 7].Significand;

    /// <summary>
    /// MMn as an MMX instruction's destination: its sign and exponent (bits 79:64) become all ones (SDM vol 1
    /// §9.5.1). The significand is the first field of <see cref="X87.Float80"/>, so the reference points at it.
    /// </summary>
    private ref ulong MmxRegister(int n)
    {
        ref var register = ref _cpu.Fpr[n & 7];
        register = new X87.Float80(register.Significand, 0xFFFF);
        return ref Unsafe.As<X87.Float80, ulong>(ref register);
    }

    /// <summary>MMX instructions raise #UD with CR0.EM and #NM with CR0.TS (SDM vol 1 §9.5.1, Table 12-1).</summary>
    private void RequireMmx()
    {
        if ((_cpu.Cr0 & 4) != 0) throw CpuException.InvalidOpcode();
        if ((_cpu.Cr0 & 8) != 0) throw new CpuException(ExceptionVector.DeviceNotAvailable);
    }

    /// <summary>Every MMX instruction but EMMS sets the x87 TOP to 0 and tags all registers valid (SDM vol 1 §9.5.1).</summary>
    private void EnterMmxState()
    {
        _cpu.FpuStatus &= unchecked((ushort)~0x3800);
        _cpu.FpuTag = 0;
    }

    private static bool IsMmx(Register register) => register >= Register.MM0 && register <= Register.MM7;

    private bool TryExecuteMmx(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Emms: RequireMmx(); _cpu.FpuTag = 0xFFFF; return true;   // all registers empty (SDM "EMMS")
            case Mnemonic.Movq2dq:
                RequireSse();
                WriteXmm(i.Op0Register, Vector128.Create(MmxValue(i.Op1Register - Register.MM0), 0UL));
                EnterMmxState();
                return true;
            case Mnemonic.Movdq2q:
                RequireSse();
                MmxRegister(i.Op0Register - Register.MM0) = ReadXmm(i.Op1Register).GetElement(0);
                EnterMmxState();
                return true;
            case Mnemonic.Movntq:
                RequireMmx();
                _mmu.Write(MemoryLinear(in i), 8, MmxValue(i.Op1Register - Register.MM0));
                EnterMmxState();
                return true;
            case Mnemonic.Pshufw:
            {
                RequireMmx();
                ulong source = Source(in i, 1).GetElement(0), result = 0;
                byte order = i.Immediate8;
                for (int k = 0; k < 4; k++) result |= (source >> (16 * ((order >> (2 * k)) & 3)) & 0xFFFF) << (16 * k);
                MmxRegister(i.Op0Register - Register.MM0) = result;
                EnterMmxState();
                return true;
            }
            case Mnemonic.Maskmovq: case Mnemonic.Maskmovdqu: MaskedStore(in i); return true;
            default: return false;
        }
    }

    /// <summary>
    /// MASKMOVQ/MASKMOVDQU: the bytes of the first source whose mask byte has bit 7 set go to DS:rDI (a segment
    /// override applies); the others are not written (SDM "MASKMOVDQU"). No alignment requirement.
    /// </summary>
    private void MaskedStore(in Instruction i)
    {
        RequireSimd(in i);
        var data = Source(in i, 1).AsByte();
        var mask = Source(in i, 2).AsByte();
        int count = IsXmm(i.Op1Register) ? 16 : 8;
        ulong address = Linear(i.MemorySegment, _gpr[CpuState.Rdi] & Mask(StringAddressSize(in i)));
        // Check every byte that will be written first, so a fault leaves memory unchanged.
        for (int k = 0; k < count; k++) if ((mask.GetElement(k) & 0x80) != 0) _mmu.Translate(address + (ulong)k, AccessKind.Write);
        for (int k = 0; k < count; k++) if ((mask.GetElement(k) & 0x80) != 0) _mmu.Write(address + (ulong)k, 1, data.GetElement(k));
        if (count == 8) EnterMmxState();
    }
}
