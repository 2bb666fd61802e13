using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu.X87;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The x87 register stack, status word bookkeeping and the dispatch of x87 instructions (SDM vol 1 ch. 8).
// Each instruction builds an X87Context from the control word, computes, and commits unless an unmasked
// pre-computation exception (IE, DE, ZE) leaves the destination as it was (SDM vol 1 §8.5).
public sealed partial class Executor
{
    private const ushort FswTopMask = 7 << 11, FswC0 = 1 << 8, FswC1 = 1 << 9, FswC2 = 1 << 10, FswC3 = 1 << 14,
        FswErrorSummary = 1 << 7, FswBusy = 1 << 15;

    private int FpuTop => (_cpu.FpuStatus >> 11) & 7;

    private int Physical(int st) => (FpuTop + st) & 7;

    private bool IsEmpty(int st) => (_cpu.FpuTag >> (2 * Physical(st)) & 3) == 3;

    private Float80 St(int st) => _cpu.Fpr[Physical(st)];

    private void SetSt(int st, Float80 value)
    {
        int n = Physical(st);
        _cpu.Fpr[n] = value;
        _cpu.FpuTag &= (ushort)~(3 << (2 * n));
    }

    private void FpuPop()
    {
        _cpu.FpuTag |= (ushort)(3 << (2 * Physical(0)));
        SetTop(FpuTop + 1);
    }

    private void SetTop(int top) => _cpu.FpuStatus = (ushort)((_cpu.FpuStatus & ~FswTopMask) | ((top & 7) << 11));

    /// <summary>
    /// Pushes a value; a full stack is a stack overflow: IE with SF and C1 set, and with IE masked the
    /// indefinite is pushed instead (SDM vol 1 §8.5.1.1). False when nothing may be pushed.
    /// </summary>
    private bool FpuPush(ref X87Context c, Float80 value)
    {
        if (!IsEmpty(7))
        {
            c.Raise(X87Context.Invalid | X87Context.StackFault | X87Context.C1);
            if (!c.Masked(X87Context.Invalid)) return false;
            value = Float80.Indefinite;
        }
        SetTop(FpuTop - 1);
        SetSt(0, value);
        return true;
    }

    /// <summary>Reading an empty register is a stack underflow: IE with SF, C1 clear (SDM vol 1 §8.5.1.1).</summary>
    private static void StackUnderflow(ref X87Context c) => c.Raise(X87Context.Invalid | X87Context.StackFault);

    /// <summary>
    /// The start of every x87 instruction: #NM when CR0.EM or CR0.TS is set (SDM vol 3 §2.5), and for the waiting
    /// forms a pending unmasked exception (FSW.ES) is delivered as #MF when CR0.NE is set (SDM vol 1 §8.7). With
    /// CR0.NE clear the PC-style FERR#/IRQ 13 path is not modelled: the instruction goes ahead.
    /// </summary>
    private void BeginX87(bool waiting)
    {
        RequireFpu();
        if (waiting && (_cpu.FpuStatus & FswErrorSummary) != 0 && (_cpu.Cr0 & SpecialRegisters.Cr0NumericError) != 0)
            throw new CpuException(ExceptionVector.FloatingPoint);
    }

    /// <summary>
    /// Merges an operation's status into FSW: C1 as the operation left it, exception flags sticky, and ES/B
    /// when any flag is unmasked (SDM vol 1 §8.1.3); then records the instruction and data pointers.
    /// </summary>
    private void EndX87(in Instruction i, in X87Context c)
    {
        ushort status = (ushort)((_cpu.FpuStatus & ~FswC1) | (c.Status & (0x7F | FswC1)));
        if ((status & ~_cpu.FpuControl & 0x3F) != 0) status |= FswErrorSummary | FswBusy;
        _cpu.FpuStatus = status;
        RecordX87Pointers(in i);
    }

    /// <summary>FIP/FCS, FOP and FDP/FDS of the last non-control x87 instruction (SDM vol 1 §8.1.8–9).</summary>
    private void RecordX87Pointers(in Instruction i)
    {
        _cpu.FpuLastIp = i.IP;
        _cpu.FpuLastCs = _cpu.Segments[CpuState.Cs].Selector;
        _cpu.FpuOpcode = X87Opcode(in i);
        bool memory = i.OpCount > 0 && (i.Op0Kind == OpKind.Memory || i.OpCount > 1 && i.Op1Kind == OpKind.Memory);
        if (!memory) return;
        _cpu.FpuLastDp = EffectiveAddress(in i);
        _cpu.FpuLastDs = _cpu.Segments[SegmentIndex(i.MemorySegment)].Selector;
    }

    /// <summary>The 11-bit FOP: the low three bits of the D8–DF opcode byte and the ModR/M byte, read after the prefixes.</summary>
    private ushort X87Opcode(in Instruction i)
    {
        ulong address = Linear(Register.CS, i.IP);
        for (int n = 0; n < i.Length - 1; n++)
        {
            byte b = (byte)_mmu.Read(address + (ulong)n, 1);
            if (b is >= 0xD8 and <= 0xDF)
                return (ushort)(((b & 7) << 8) | (byte)_mmu.Read(address + (ulong)n + 1, 1));
        }
        return 0;
    }

    private static int StIndex(Register register) => register - Register.ST0;

    /// <summary>Reads a memory operand of an x87 instruction as a register value (m32fp, m64fp, m80fp, m16/32/64int).</summary>
    private Float80 ReadX87Memory(ref X87Context c, in Instruction i)
    {
        ulong address = MemoryLinear(in i);
        switch (i.MemorySize)
        {
            case MemorySize.Float32: return Float80Math.FromBinary(ref c, _mmu.Read(address, 4), FloatFormat.Single);
            case MemorySize.Float64: return Float80Math.FromBinary(ref c, _mmu.Read(address, 8), FloatFormat.Double);
            case MemorySize.Float80: return ReadFloat80(address);
            case MemorySize.Int16: return Float80Math.FromInteger((short)_mmu.Read(address, 2));
            case MemorySize.Int32: return Float80Math.FromInteger((int)_mmu.Read(address, 4));
            case MemorySize.Int64: return Float80Math.FromInteger((long)_mmu.Read(address, 8));
            case MemorySize.Bcd: return Float80Math.FromPackedBcd(_mmu.Read(address, 8), (ushort)_mmu.Read(address + 8, 2));
            default: throw CpuException.InvalidOpcode();
        }
    }

    private Float80 ReadFloat80(ulong address) => new(_mmu.Read(address, 8), (ushort)_mmu.Read(address + 8, 2));

    private void WriteFloat80(ulong address, Float80 value)
    {
        // Both halves are checked before either is written, so a fault leaves memory unchanged.
        _mmu.Translate(address, AccessKind.Write);
        _mmu.Translate(address + 9, AccessKind.Write);
        _mmu.Write(address, 8, value.Significand);
        _mmu.Write(address + 8, 2, value.SignExponent);
    }
}
