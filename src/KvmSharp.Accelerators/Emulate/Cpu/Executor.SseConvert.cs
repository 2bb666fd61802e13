using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// SSE/SSE2 conversions among int32, int64, single and double (SDM vol 1 §10.4.6, §11.4.1.4; vol 2 "CVT*"),
// rounded by MXCSR.RC (CVTT* truncate). A float that is a NaN or out of the integer's range converts to the
// "integer indefinite" (the sign bit alone) and raises IE.
public sealed partial class Executor
{
    private bool TryExecuteSseConvert(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Cvtsi2ss: IntegerToFloat(in i, single: true); return true;
            case Mnemonic.Cvtsi2sd: IntegerToFloat(in i, single: false); return true;
            case Mnemonic.Cvtss2si: FloatToInteger(in i, single: true, truncate: false); return true;
            case Mnemonic.Cvtsd2si: FloatToInteger(in i, single: false, truncate: false); return true;
            case Mnemonic.Cvttss2si: FloatToInteger(in i, single: true, truncate: true); return true;
            case Mnemonic.Cvttsd2si: FloatToInteger(in i, single: false, truncate: true); return true;
            case Mnemonic.Cvtss2sd: ConvertLanes(in i, 1, static (e, v) => e.SingleToDouble(v), fromSingle: true, toSingle: false); return true;
            case Mnemonic.Cvtsd2ss: ConvertLanes(in i, 1, static (e, v) => e.DoubleToSingle(v), fromSingle: false, toSingle: true); return true;
            case Mnemonic.Cvtps2pd: ConvertLanes(in i, 2, static (e, v) => e.SingleToDouble(v), fromSingle: true, toSingle: false, zeroRest: true); return true;
            case Mnemonic.Cvtpd2ps: ConvertLanes(in i, 2, static (e, v) => e.DoubleToSingle(v), fromSingle: false, toSingle: true, zeroRest: true); return true;
            case Mnemonic.Cvtdq2ps: ConvertLanes(in i, 4, static (e, v) => e.RoundResult((int)v, 0, true), fromSingle: true, toSingle: true); return true;
            case Mnemonic.Cvtdq2pd: ConvertLanes(in i, 2, static (_, v) => BitConverter.DoubleToUInt64Bits((int)v), fromSingle: true, toSingle: false, zeroRest: true); return true;
            case Mnemonic.Cvtps2dq: ConvertLanes(in i, 4, static (e, v) => e.ToInt32(v, true, false), fromSingle: true, toSingle: true); return true;
            case Mnemonic.Cvttps2dq: ConvertLanes(in i, 4, static (e, v) => e.ToInt32(v, true, true), fromSingle: true, toSingle: true); return true;
            case Mnemonic.Cvtpd2dq: ConvertLanes(in i, 2, static (e, v) => e.ToInt32(v, false, false), fromSingle: false, toSingle: true, zeroRest: true); return true;
            case Mnemonic.Cvttpd2dq: ConvertLanes(in i, 2, static (e, v) => e.ToInt32(v, false, true), fromSingle: false, toSingle: true, zeroRest: true); return true;
            case Mnemonic.Cvtpi2ps: ConvertLanes(in i, 2, static (e, v) => e.RoundResult((int)v, 0, true), fromSingle: true, toSingle: true); return true;
            case Mnemonic.Cvtpi2pd: ConvertLanes(in i, 2, static (_, v) => BitConverter.DoubleToUInt64Bits((int)v), fromSingle: true, toSingle: false); return true;
            case Mnemonic.Cvtps2pi: ConvertLanes(in i, 2, static (e, v) => e.ToInt32(v, true, false), fromSingle: true, toSingle: true); return true;
            case Mnemonic.Cvttps2pi: ConvertLanes(in i, 2, static (e, v) => e.ToInt32(v, true, true), fromSingle: true, toSingle: true); return true;
            case Mnemonic.Cvtpd2pi: ConvertLanes(in i, 2, static (e, v) => e.ToInt32(v, false, false), fromSingle: false, toSingle: true); return true;
            case Mnemonic.Cvttpd2pi: ConvertLanes(in i, 2, static (e, v) => e.ToInt32(v, false, true), fromSingle: false, toSingle: true); return true;
            default: return false;
        }
    }

    /// <summary>
    /// Converts <paramref name="lanes"/> elements of the source into the destination's low lanes. The rest of an
    /// XMM destination is kept (scalar forms, CVTPI2PS) or zeroed (<paramref name="zeroRest"/>); an MMX destination
    /// gets 64 bits. An MMX register operand switches the x87 unit to MMX state (SDM vol 1 §9.5.1, "CVTPI2PS").
    /// </summary>
    private void ConvertLanes(in Instruction i, int lanes, Func<Executor, ulong, ulong> convert, bool fromSingle, bool toSingle, bool zeroRest = false)
    {
        RequireSse();
        var source = Source(in i, 1);
        bool mmxDestination = IsMmx(i.Op0Register);
        bool mmxSource = i.Op1Kind == OpKind.Register && IsMmx(i.Op1Register);
        var result = mmxDestination || zeroRest ? Vector128<ulong>.Zero : ReadXmm(i.Op0Register);
        // Integer sources are dword lanes (read through the single-precision lane view).
        for (int k = 0; k < lanes; k++) result = WithLane(result, k, convert(this, Lane(source, k, fromSingle)), toSingle);
        CommitSimdExceptions();
        if (mmxDestination) MmxRegister(i.Op0Register - Register.MM0) = result.GetElement(0);
        else WriteXmm(i.Op0Register, result);
        if (mmxDestination || mmxSource) EnterMmxState();
    }

    private ulong SingleToDouble(ulong bits)
    {
        // A NaN keeps its sign and payload, quieted (SDM vol 1 §4.8.3.5); the conversion is otherwise exact.
        if (IsNaN(bits, true))
        {
            ulong quiet = QuietNaN(bits, true);
            return ((quiet & 0x8000_0000UL) << 32) | 0x7FF0_0000_0000_0000UL | ((quiet & 0x007F_FFFFUL) << 29);
        }
        return BitConverter.DoubleToUInt64Bits(Operand(bits, true));
    }

    private ulong DoubleToSingle(ulong bits)
    {
        if (IsNaN(bits, false))
        {
            ulong quiet = QuietNaN(bits, false);
            return ((quiet >> 32) & 0x8000_0000UL) | 0x7F80_0000UL | ((quiet >> 29) & 0x007F_FFFFUL);
        }
        double value = Operand(bits, false);
        if (double.IsInfinity(value)) return FromDouble(value, true);
        return RoundResult(value, 0, true);
    }

    /// <summary>A float lane to int32 (as a dword lane), rounded by MXCSR.RC or truncated.</summary>
    private ulong ToInt32(ulong bits, bool single, bool truncate) => (uint)FloatToInt(bits, single, truncate, 4);

    /// <summary>
    /// Float to a signed integer of <paramref name="size"/> bytes; NaN and out-of-range give the integer indefinite
    /// and IE, an inexact in-range result PE (SDM vol 1 §11.5.2.1, vol 2 "CVTSD2SI").
    /// </summary>
    private ulong FloatToInt(ulong bits, bool single, bool truncate, int size)
    {
        ulong indefinite = size == 8 ? 0x8000_0000_0000_0000 : 0x8000_0000;
        if (IsNaN(bits, single)) { _simdExceptions |= MxInvalid; return indefinite; }
        double value = Operand(bits, single, reportDenormal: false);
        double rounded = (truncate ? RoundTowardZero : RoundingControl) switch
        {
            RoundNearest => Math.Round(value, MidpointRounding.ToEven),
            RoundDown => Math.Floor(value),
            RoundUp => Math.Ceiling(value),
            _ => Math.Truncate(value),
        };
        bool inRange = size == 8 ? rounded >= -9.2233720368547758E18 && rounded < 9.2233720368547758E18
            : rounded >= int.MinValue && rounded <= int.MaxValue;
        if (!inRange) { _simdExceptions |= MxInvalid; return indefinite; }
        if (rounded != value) _simdExceptions |= MxPrecision;
        return size == 8 ? (ulong)(long)rounded : (uint)(int)rounded;
    }

    /// <summary>CVTSI2SS/CVTSI2SD: a 32- or 64-bit signed integer, rounded by MXCSR.RC into the low lane.</summary>
    private void IntegerToFloat(in Instruction i, bool single)
    {
        RequireSse();
        int size = OperandSize(in i, 1);
        long value = (long)SignExtend(ReadOperand(in i, 1, size), size);
        double hi = value;
        // The error of a 64-bit conversion, exactly (|error| < 2^10), from 128-bit integer arithmetic.
        double lo = size == 8 ? (double)((Int128)value - (Int128)hi) : 0;
        ulong result = RoundResult(hi, lo, single);
        CommitSimdExceptions();
        WriteXmm(i.Op0Register, WithLane(ReadXmm(i.Op0Register), 0, result, single));
    }

    /// <summary>CVTSS2SI/CVTSD2SI/CVTTSS2SI/CVTTSD2SI into a 32- or 64-bit general register.</summary>
    private void FloatToInteger(in Instruction i, bool single, bool truncate)
    {
        RequireSse();
        int size = i.Op0Register.GetSize();
        ulong result = FloatToInt(Lane(Source(in i, 1), 0, single), single, truncate, size);
        CommitSimdExceptions();
        RegisterFile.Write(_gpr, i.Op0Register, result);
    }
}
