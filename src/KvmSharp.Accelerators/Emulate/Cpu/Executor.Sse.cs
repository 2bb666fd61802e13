using System.Runtime.Intrinsics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// SSE through SSE4.2 and MMX (SDM vol 1 chapters 9–12): operand access, the exception checks every
// SIMD instruction makes, and the dispatch to the groups in Executor.Sse*.cs, Executor.Ssse3.cs,
// Executor.Sse4*.cs and Executor.Mmx.cs. Vector values are Vector128<ulong>; an MMX operand is the low
// half of one (the upper half zero), so most integer operations serve both register files.
public sealed partial class Executor
{
    /// <summary>SSE needs CR4.OSFXSR and CR0.EM clear (#UD), and raises #NM while CR0.TS is set (SDM vol 3 §13.1.3).</summary>
    private void RequireSse()
    {
        if ((_cpu.Cr4 & (1 << 9)) == 0 || (_cpu.Cr0 & 4) != 0) throw CpuException.InvalidOpcode();
        if ((_cpu.Cr0 & 8) != 0) throw new CpuException(ExceptionVector.DeviceNotAvailable);
    }

    /// <summary>
    /// The checks of an instruction with SIMD operands: SSE's when any operand is an XMM register (CVTPI2PS,
    /// MOVQ2DQ, …), else MMX's: #UD with CR0.EM, #NM with CR0.TS (SDM vol 3 §13.1.3, vol 1 §9.5).
    /// </summary>
    private void RequireSimd(in Instruction i)
    {
        for (int op = 0; op < i.OpCount; op++)
            if (i.GetOpKind(op) == OpKind.Register && IsXmm(i.GetOpRegister(op))) { RequireSse(); return; }
        RequireMmx();
    }

    private static bool IsXmm(Register register) => register >= Register.XMM0 && register <= Register.XMM15;

    private Vector128<ulong> ReadXmm(Register register)
    {
        int n = register - Register.XMM0;
        return Vector128.Create(_cpu.Xmm[2 * n], _cpu.Xmm[2 * n + 1]);
    }

    private void WriteXmm(Register register, Vector128<ulong> value)
    {
        int n = register - Register.XMM0;
        _cpu.Xmm[2 * n] = value.GetElement(0);
        _cpu.Xmm[2 * n + 1] = value.GetElement(1);
    }

    /// <summary>
    /// Legacy-SSE 128-bit memory operands must be 16-byte aligned (#GP), except those of the unaligned
    /// moves, LDDQU and the SSE4.2 string compares (SDM vol 1 §11.6.6, vol 2 §2.4 "exception type 4").
    /// </summary>
    private static bool NeedsAlignment(in Instruction i) => i.Mnemonic is not (Mnemonic.Movdqu or Mnemonic.Movups or Mnemonic.Movupd
        or Mnemonic.Lddqu or Mnemonic.Pcmpestri or Mnemonic.Pcmpestri64 or Mnemonic.Pcmpestrm or Mnemonic.Pcmpestrm64
        or Mnemonic.Pcmpistri or Mnemonic.Pcmpistrm);

    /// <summary>A 128-bit register or memory operand; <paramref name="aligned"/> memory must be 16-byte aligned (#GP).</summary>
    private Vector128<ulong> ReadVector(in Instruction i, int op, bool aligned = false)
    {
        if (i.GetOpKind(op) == OpKind.Register) return ReadXmm(i.GetOpRegister(op));
        ulong address = MemoryLinear(in i);
        if (aligned && (address & 15) != 0) throw CpuException.GeneralProtection();
        int size = i.MemorySize.GetSize();
        ulong low = _mmu.Read(address, Math.Min(size, 8));
        ulong high = size > 8 ? _mmu.Read(address + 8, 8) : 0;
        return Vector128.Create(low, high);
    }

    /// <summary>
    /// A SIMD source operand: an XMM register, an MMX register (zero-extended) or memory of the operand's size
    /// (zero-extended; 16-byte operands checked for alignment).
    /// </summary>
    private Vector128<ulong> Source(in Instruction i, int op)
    {
        if (i.GetOpKind(op) == OpKind.Register)
        {
            var register = i.GetOpRegister(op);
            return IsXmm(register) ? ReadXmm(register) : Vector128.Create(MmxValue(register - Register.MM0), 0UL);
        }
        return ReadVector(in i, op, aligned: i.MemorySize.GetSize() == 16 && NeedsAlignment(in i));
    }

    private void WriteVectorMemory(in Instruction i, Vector128<ulong> value, int size, bool aligned = false)
    {
        ulong address = MemoryLinear(in i);
        if (aligned && (address & 15) != 0) throw CpuException.GeneralProtection();
        if (size > 8) _mmu.Translate(address + 8, AccessKind.Write);
        _mmu.Write(address, Math.Min(size, 8), value.GetElement(0));
        if (size > 8) _mmu.Write(address + 8, 8, value.GetElement(1));
    }

    /// <summary>Executes an MMX or SSE–SSE4.2 instruction; false when the mnemonic is not one of them.</summary>
    private bool TryExecuteSse(in Instruction i) =>
        TryExecuteSseData(in i) || TryExecuteSseInteger(in i) || TryExecuteSseFloat(in i) || TryExecuteSseConvert(in i)
        || TryExecuteSse4(in i) || TryExecuteSse42(in i) || TryExecuteMmx(in i);

    /// <summary>MXCSR_MASK as FXSAVE reports it: every defined bit, DAZ included (SDM vol 1 §11.6.6).</summary>
    private const uint MxcsrMask = 0xFFFF;

    /// <summary>LDMXCSR: setting a reserved bit (outside MXCSR_MASK) raises #GP(0) (SDM "LDMXCSR").</summary>
    private void LoadMxcsr(in Instruction i)
    {
        RequireSse();
        uint value = (uint)_mmu.Read(MemoryLinear(in i), 4);
        if ((value & ~MxcsrMask) != 0) throw CpuException.GeneralProtection();
        _cpu.Mxcsr = value;
    }

    // ---- how an integer operation applies to MMX operands ----------------------------------------

    /// <summary>
    /// How the 128-bit form of an operation gives the 64-bit MMX form: <see cref="Lanes"/> operations work lane
    /// by lane (the low half of the result is the MMX result); <see cref="Pairs"/> operations (packs, horizontal
    /// adds) read both operands as one vector (destination low, source high); <see cref="HighHalves"/> is the
    /// PUNPCKH* rule (the upper halves of the two 64-bit operands); <see cref="Repeated"/> gives PSHUFB its
    /// 3-bit index (SDM "PSHUFB": the MMX form masks the index with 7).
    /// </summary>
    private enum MmxShape : byte { Lanes, Pairs, HighHalves, Repeated }

    /// <summary>Destination ← operation(destination, source) for XMM and MMX destinations.</summary>
    private void Packed(in Instruction i, Func<Vector128<ulong>, Vector128<ulong>, Vector128<ulong>> operation, MmxShape shape = MmxShape.Lanes)
    {
        RequireSimd(in i);
        if (IsXmm(i.Op0Register))
        {
            WriteXmm(i.Op0Register, operation(ReadXmm(i.Op0Register), Source(in i, 1)));
            return;
        }
        ref ulong destination = ref MmxRegister(i.Op0Register - Register.MM0);
        ulong a = destination, b = Source(in i, 1).GetElement(0);
        var result = shape switch
        {
            MmxShape.Pairs => operation(Vector128.Create(a, b), Vector128<ulong>.Zero),
            MmxShape.HighHalves => operation(Vector128.Create(0, a >> 32), Vector128.Create(0, b >> 32)),
            MmxShape.Repeated => operation(Vector128.Create(a, a), Vector128.Create(b, b)),
            _ => operation(Vector128.Create(a, 0UL), Vector128.Create(b, 0UL)),
        };
        destination = result.GetElement(0);
        EnterMmxState();
    }

    /// <summary>Destination ← operation(destination, source, imm8) for XMM and MMX destinations (lane-wise).</summary>
    private void PackedImmediate(in Instruction i, Func<Vector128<ulong>, Vector128<ulong>, byte, Vector128<ulong>> operation)
    {
        RequireSimd(in i);
        if (IsXmm(i.Op0Register))
        {
            WriteXmm(i.Op0Register, operation(ReadXmm(i.Op0Register), Source(in i, 1), i.Immediate8));
            return;
        }
        ref ulong destination = ref MmxRegister(i.Op0Register - Register.MM0);
        destination = operation(Vector128.Create(destination, 0UL), Source(in i, 1), i.Immediate8).GetElement(0);
        EnterMmxState();
    }
}
