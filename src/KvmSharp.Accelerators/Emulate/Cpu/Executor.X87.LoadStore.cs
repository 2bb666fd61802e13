using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu.X87;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// x87 data transfer (SDM vol 1 §8.3.3–8.3.4; vol 2 "FLD", "FST", "FILD", "FIST", "FISTTP", "FBLD", "FBSTP",
// "FXCH", "FCMOVcc", "FFREE", "FINCSTP", "FDECSTP", and the constant loads).
public sealed partial class Executor
{
    // The constants to 128 bits (value = significand × 2^(exponent − 127)), rounded to 64 bits by the rounding
    // control as FLDPI & co. do (SDM vol 1 §8.3.8). Computed with 80-digit decimal arithmetic.
    private static readonly (ulong High, ulong Low, int Exponent)[] X87Constants =
    [
        (0xC90F_DAA2_2168_C234, 0xC4C6_628B_80DC_1CD1, 1),    // π
        (0xB8AA_3B29_5C17_F0BB, 0xBE87_FED0_691D_3E88, 0),    // log2(e)
        (0xD49A_784B_CD1B_8AFE, 0x492B_F6FF_4DAF_DB4C, 1),    // log2(10)
        (0x9A20_9A84_FBCF_F798, 0x8F89_59AC_0B7C_9178, -2),   // log10(2)
        (0xB172_17F7_D1CF_79AB, 0xC9E3_B398_03F2_F6AF, -1),   // ln(2)
    ];

    /// <summary>FLD, FILD, FBLD and the constant loads: one value pushed.</summary>
    private void X87Load(in Instruction i)
    {
        var c = new X87Context(_cpu.FpuControl);
        Float80 value;
        switch (i.Mnemonic)
        {
            case Mnemonic.Fld when i.Op0Kind == OpKind.Register:
                int source = StIndex(i.Op0Register);
                if (IsEmpty(source))
                {
                    StackUnderflow(ref c);
                    value = Float80.Indefinite;
                    if (!c.Masked(X87Context.Invalid)) break;
                }
                else value = St(source);
                FpuPush(ref c, value);
                break;
            case Mnemonic.Fld1: FpuPush(ref c, Float80.One); break;
            case Mnemonic.Fldz: FpuPush(ref c, Float80.Zero); break;
            case Mnemonic.Fldpi: case Mnemonic.Fldl2e: case Mnemonic.Fldl2t: case Mnemonic.Fldlg2: case Mnemonic.Fldln2:
                var (high, low, exponent) = X87Constants[i.Mnemonic switch
                {
                    Mnemonic.Fldpi => 0, Mnemonic.Fldl2e => 1, Mnemonic.Fldl2t => 2, Mnemonic.Fldlg2 => 3, _ => 4,
                }];
                var rounding = new X87Context(_cpu.FpuControl);   // constants raise neither PE nor C1
                FpuPush(ref c, Float80Math.RoundToRegister(ref rounding, false, exponent - 127, new UInt128(high, low), 64));
                break;
            default:
                value = ReadX87Memory(ref c, in i);
                if (i.MemorySize is MemorySize.Float32 or MemorySize.Float64) value = Float80Math.QuietForLoad(ref c, value);
                if (IsEmpty(7)) c.CommitDenormal();   // a stack overflow outranks DE (SDM vol 1 §4.9.2)
                if (!c.Blocked) FpuPush(ref c, value);
                break;
        }
        EndX87(in i, in c);
    }

    /// <summary>FST/FSTP (m32fp, m64fp, m80fp, ST(i)), FIST/FISTP/FISTTP (m16/32/64int), FBSTP.</summary>
    private void X87Store(in Instruction i, bool pop)
    {
        var c = new X87Context(_cpu.FpuControl);
        Float80 value = St(0);
        if (IsEmpty(0))
        {
            StackUnderflow(ref c);
            value = Float80.Indefinite;
        }
        bool written = c.Masked(X87Context.Invalid) || !IsEmpty(0);
        if (written && i.Op0Kind == OpKind.Register)
        {
            SetSt(StIndex(i.Op0Register), value);
        }
        else if (written)
        {
            ulong address = MemoryLinear(in i);
            switch (i.MemorySize)
            {
                case MemorySize.Float80: WriteFloat80(address, value); break;
                case MemorySize.Float32 or MemorySize.Float64:
                    var format = i.MemorySize == MemorySize.Float32 ? FloatFormat.Single : FloatFormat.Double;
                    if (Float80Math.ToBinary(ref c, value, format, out ulong bits)) _mmu.Write(address, format.Precision == 24 ? 4 : 8, bits);
                    break;
                case MemorySize.Int16 or MemorySize.Int32 or MemorySize.Int64:
                    int size = i.MemorySize == MemorySize.Int16 ? 2 : i.MemorySize == MemorySize.Int32 ? 4 : 8;
                    long integer = Float80Math.ToInteger(ref c, value, size * 8, i.Mnemonic == Mnemonic.Fisttp);
                    if (!c.Blocked) _mmu.Write(address, size, (ulong)integer & Mask(size));
                    break;
                case MemorySize.Bcd:
                    if (Float80Math.ToPackedBcd(ref c, value, out ulong low, out ushort high))
                    {
                        _mmu.Translate(address + 9, AccessKind.Write);
                        _mmu.Write(address, 8, low);
                        _mmu.Write(address + 8, 2, high);
                    }
                    break;
                default: throw CpuException.InvalidOpcode();
            }
        }
        // An unmasked exception that leaves memory unchanged also leaves the stack (SDM vol 1 §8.5): IE, and OE or
        // UE for m32fp/m64fp; an unmasked PE stores and pops.
        ushort suppressing = (ushort)(X87Context.Invalid | (i.MemorySize is MemorySize.Float32 or MemorySize.Float64 ? X87Context.Overflow | X87Context.Underflow : 0));
        if (pop && (c.Status & ~_cpu.FpuControl & suppressing) == 0) FpuPop();
        EndX87(in i, in c);
    }

    /// <summary>FXCH: an empty operand takes the indefinite first when IE is masked (SDM vol 2 "FXCH").</summary>
    private void X87Exchange(in Instruction i)
    {
        var c = new X87Context(_cpu.FpuControl);
        int other = i.OpCount > 1 ? StIndex(i.Op1Register) : 1;
        if (IsEmpty(0) || IsEmpty(other))
        {
            StackUnderflow(ref c);
            if (!c.Masked(X87Context.Invalid))
            {
                EndX87(in i, in c);
                return;
            }
            if (IsEmpty(0)) SetSt(0, Float80.Indefinite);
            if (IsEmpty(other)) SetSt(other, Float80.Indefinite);
        }
        var top = St(0);
        SetSt(0, St(other));
        SetSt(other, top);
        EndX87(in i, in c);
    }

    /// <summary>FCMOVcc: ST(0) ← ST(i) when the EFLAGS condition holds (SDM vol 2 "FCMOVcc").</summary>
    private void X87ConditionalMove(in Instruction i)
    {
        var c = new X87Context(_cpu.FpuControl);
        int source = StIndex(i.Op1Register);
        if (IsEmpty(0) || IsEmpty(source))
        {
            StackUnderflow(ref c);
            if (c.Masked(X87Context.Invalid)) SetSt(0, Float80.Indefinite);
        }
        else if (i.Mnemonic switch
        {
            Mnemonic.Fcmovb => _cpu.Flags.Carry,
            Mnemonic.Fcmove => _cpu.Flags.Zero,
            Mnemonic.Fcmovbe => _cpu.Flags.Carry || _cpu.Flags.Zero,
            Mnemonic.Fcmovu => _cpu.Flags.Parity,
            Mnemonic.Fcmovnb => !_cpu.Flags.Carry,
            Mnemonic.Fcmovne => !_cpu.Flags.Zero,
            Mnemonic.Fcmovnbe => !_cpu.Flags.Carry && !_cpu.Flags.Zero,
            _ => !_cpu.Flags.Parity,
        })
        {
            SetSt(0, St(source));
        }
        EndX87(in i, in c);
    }

    /// <summary>FFREE, FFREEP, FINCSTP, FDECSTP, FNOP: tag and TOP changes only; C1 is cleared.</summary>
    private void X87StackControl(in Instruction i)
    {
        var c = new X87Context(_cpu.FpuControl);
        switch (i.Mnemonic)
        {
            case Mnemonic.Ffree: _cpu.FpuTag |= (ushort)(3 << (2 * Physical(StIndex(i.Op0Register)))); break;
            case Mnemonic.Ffreep:
                _cpu.FpuTag |= (ushort)(3 << (2 * Physical(StIndex(i.Op0Register))));
                SetTop(FpuTop + 1);
                break;
            case Mnemonic.Fincstp: SetTop(FpuTop + 1); break;
            case Mnemonic.Fdecstp: SetTop(FpuTop - 1); break;
        }
        EndX87(in i, in c);
    }
}
