using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu.X87;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// x87 arithmetic and comparison instructions (SDM vol 2 "FADD" … "FXTRACT"; vol 1 §8.3.5–8.3.7).
public sealed partial class Executor
{
    private enum X87Operation : byte { Add, Subtract, SubtractReverse, Multiply, Divide, DivideReverse }

    /// <summary>
    /// FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR with their P and I forms: the destination is ST(0) for memory operands,
    /// else the first register operand; the R forms swap the operands (SDM vol 2 "FSUBR").
    /// </summary>
    private void X87Binary(in Instruction i, X87Operation operation, bool pop)
    {
        var c = new X87Context(_cpu.FpuControl);
        bool memory = i.Op0Kind == OpKind.Memory;
        int destination = memory ? 0 : StIndex(i.Op0Register);
        int source = memory ? 0 : StIndex(i.Op1Register);
        if (IsEmpty(destination) || !memory && IsEmpty(source))
        {
            StackUnderflow(ref c);
            if (c.Masked(X87Context.Invalid)) SetSt(destination, Float80.Indefinite);
        }
        else
        {
            Float80 a = St(destination);
            Float80 b = memory ? ReadX87Memory(ref c, in i) : St(source);
            Float80 result = c.Blocked ? a : operation switch
            {
                X87Operation.Add => Float80Math.Add(ref c, a, b),
                X87Operation.Subtract => Float80Math.Subtract(ref c, a, b),
                X87Operation.SubtractReverse => Float80Math.Subtract(ref c, b, a),
                X87Operation.Multiply => Float80Math.Multiply(ref c, a, b),
                X87Operation.Divide => Float80Math.Divide(ref c, a, b),
                _ => Float80Math.Divide(ref c, b, a),
            };
            if (!c.Blocked) SetSt(destination, result);
        }
        if (pop && !c.Blocked) FpuPop();
        EndX87(in i, in c);
    }

    /// <summary>One-operand instructions that replace ST(0): FSQRT, FRNDINT, FCHS, FABS.</summary>
    private void X87Unary(in Instruction i)
    {
        var c = new X87Context(_cpu.FpuControl);
        if (IsEmpty(0))
        {
            StackUnderflow(ref c);
            if (c.Masked(X87Context.Invalid)) SetSt(0, Float80.Indefinite);
            EndX87(in i, in c);
            return;
        }
        Float80 a = St(0);
        Float80 result = i.Mnemonic switch
        {
            Mnemonic.Fsqrt => Float80Math.SquareRoot(ref c, a),
            Mnemonic.Frndint => Float80Math.RoundToInteger(ref c, a),
            Mnemonic.Fchs => a.Negate(),
            _ => a.Abs(),
        };
        if (!c.Blocked) SetSt(0, result);
        EndX87(in i, in c);
    }

    /// <summary>FSCALE, FPREM, FPREM1: ST(0) combined with ST(1).</summary>
    private void X87WithSt1(in Instruction i)
    {
        var c = new X87Context(_cpu.FpuControl);
        ushort conditions = 0;
        if (IsEmpty(0) || IsEmpty(1))
        {
            StackUnderflow(ref c);
            if (c.Masked(X87Context.Invalid)) SetSt(0, Float80.Indefinite);
        }
        else if (i.Mnemonic == Mnemonic.Fscale)
        {
            var result = Float80Math.Scale(ref c, St(0), St(1));
            if (!c.Blocked) SetSt(0, result);
        }
        else
        {
            var result = Float80Math.Remainder(ref c, St(0), St(1), i.Mnemonic == Mnemonic.Fprem1, out int q, out bool complete);
            if (!c.Blocked)
            {
                SetSt(0, result);
                // C2 = incomplete; a complete reduction reports quotient bits Q2, Q1, Q0 in C0, C3, C1 (SDM vol 2 "FPREM").
                c.Status &= unchecked((ushort)~X87Context.C1);
                if (!complete) conditions = FswC2;
                else conditions = (ushort)(((q & 4) != 0 ? FswC0 : 0) | ((q & 2) != 0 ? FswC3 : 0) | ((q & 1) != 0 ? FswC1 : 0));
                c.Status |= (ushort)(conditions & FswC1);
                _cpu.FpuStatus = (ushort)((_cpu.FpuStatus & ~(FswC0 | FswC2 | FswC3)) | (conditions & (FswC0 | FswC2 | FswC3)));
            }
        }
        EndX87(in i, in c);
    }

    /// <summary>FXTRACT: ST(0) becomes its exponent, then the significand is pushed.</summary>
    private void X87Extract(in Instruction i)
    {
        var c = new X87Context(_cpu.FpuControl);
        if (IsEmpty(0))
        {
            StackUnderflow(ref c);
        }
        else if (!IsEmpty(7))
        {
            c.Raise(X87Context.Invalid | X87Context.StackFault | X87Context.C1);
        }
        else
        {
            var (exponent, significand) = Float80Math.Extract(ref c, St(0));
            if (!c.Blocked)
            {
                SetSt(0, exponent);
                FpuPush(ref c, significand);
            }
            EndX87(in i, in c);
            return;
        }
        if (c.Masked(X87Context.Invalid))
        {
            SetSt(0, Float80.Indefinite);
            SetTop(FpuTop - 1);
            SetSt(0, Float80.Indefinite);
        }
        EndX87(in i, in c);
    }

    /// <summary>
    /// FCOM/FUCOM/FICOM/FTST (C3 C2 C0) and FCOMI/FUCOMI (ZF PF CF, with OF SF AF cleared), popping
    /// <paramref name="pops"/> times. Unordered is 111; an unmasked IE leaves the flags (SDM vol 2 "FCOM", "FCOMI").
    /// </summary>
    private void X87Compare(in Instruction i, bool quiet, int pops, bool eflags)
    {
        var c = new X87Context(_cpu.FpuControl);
        int other = i.Mnemonic is Mnemonic.Ftst || i.Op0Kind == OpKind.Memory ? -1 : i.OpCount == 0 ? 1 : StIndex(i.Op1Register);
        Float80Order order;
        if (IsEmpty(0) || other >= 0 && IsEmpty(other))
        {
            StackUnderflow(ref c);
            order = Float80Order.Unordered;
        }
        else
        {
            Float80 b = i.Mnemonic == Mnemonic.Ftst ? Float80.Zero : other < 0 ? ReadX87Memory(ref c, in i) : St(other);
            order = Float80Math.Compare(ref c, St(0), b, quiet);
        }
        // FCOMI clears OF, SF and AF even when an unmasked IE keeps ZF, PF, CF (SDM vol 2 "FCOMI").
        if (eflags) _cpu.Flags.Store(_cpu.Flags.ToBits() & ~(LazyFlags.OF | LazyFlags.SF | LazyFlags.AF));
        if (c.Blocked)
        {
            EndX87(in i, in c);
            return;
        }
        bool less = order is Float80Order.Less or Float80Order.Unordered;
        bool equal = order is Float80Order.Equal or Float80Order.Unordered;
        bool unordered = order == Float80Order.Unordered;
        if (eflags)
            _cpu.Flags.Store((less ? LazyFlags.CF : 0) | (equal ? LazyFlags.ZF : 0) | (unordered ? LazyFlags.PF : 0));
        else
            _cpu.FpuStatus = (ushort)((_cpu.FpuStatus & ~(FswC0 | FswC2 | FswC3))
                | (less ? FswC0 : 0) | (equal ? FswC3 : 0) | (unordered ? FswC2 : 0));
        for (int n = 0; n < pops; n++) FpuPop();
        EndX87(in i, in c);
    }

    /// <summary>FXAM: classifies ST(0) into C3 C2 C0, with its sign in C1 (SDM vol 2 "FXAM", Table 3-42).</summary>
    private void X87Examine(in Instruction i)
    {
        var c = new X87Context(_cpu.FpuControl);
        var value = St(0);
        int code = IsEmpty(0) ? 0b101 : value.Classify() switch
        {
            Float80Class.Unsupported => 0b000,
            Float80Class.QuietNaN or Float80Class.SignalingNaN => 0b001,
            Float80Class.Normal => 0b010,
            Float80Class.Infinity => 0b011,
            Float80Class.Zero => 0b100,
            _ => 0b110,
        };
        if (value.Sign) c.Raise(X87Context.C1);
        _cpu.FpuStatus = (ushort)((_cpu.FpuStatus & ~(FswC0 | FswC2 | FswC3))
            | ((code & 4) != 0 ? FswC3 : 0) | ((code & 2) != 0 ? FswC2 : 0) | ((code & 1) != 0 ? FswC0 : 0));
        EndX87(in i, in c);
    }
}
