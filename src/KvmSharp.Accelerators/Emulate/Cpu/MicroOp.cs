using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>The pre-decoded forms that <see cref="Executor.StepFast"/> runs without going back to Iced's operand accessors.</summary>
public enum MicroKind : byte
{
    /// <summary>Anything else: <see cref="Executor.Step"/> on the Iced instruction.</summary>
    Generic,
    Nop,
    /// <summary>ADD/ADC/SUB/SBB/CMP or AND/OR/XOR/TEST.</summary>
    Alu,
    // Register-only forms of the hottest kinds (32/64-bit general registers, register or immediate
    // source): the same semantics with none of the operand-place tests.
    AluWide,
    MovWide,
    IncDecWide,
    ShiftWide,
    /// <summary>IMUL r32/64, r, (imm): register operands of the destination's size.</summary>
    ImulWide,
    Mov,
    /// <summary>MOVZX, MOVSX, MOVSXD: the source (of <see cref="MicroOp.SourceSize"/>) widened.</summary>
    MovZeroExtend,
    MovSignExtend,
    Lea,
    IncDec,
    /// <summary>Shift or rotate by an immediate or by CL.</summary>
    Shift,
    /// <summary>IMUL r, r/m and IMUL r, r/m, imm.</summary>
    Imul,
    Setcc,
    Cmovcc,
    Push,
    Pop,
    Call,
    Ret,
    Jcc,
    Jmp,
}

/// <summary>Where an operand of a micro-op is.</summary>
public enum MicroOperand : byte { None, Register, Memory, Immediate }

/// <summary>Which ALU family an <see cref="MicroKind.Alu"/> op belongs to.</summary>
public enum LogicKind : byte { And, Or, Xor }

/// <summary>
/// One instruction in a form that needs no decoding work at run time: operand places, register numbers,
/// sizes, immediate, displacement and branch targets extracted once when the block is decoded. Only the
/// commonest instructions get one (general registers, 32/64-bit addressing, no prefixes that change
/// their meaning); the semantics stay in <see cref="Executor"/>'s value functions, which the generic path
/// uses too, so there is one definition of what each instruction does.
/// </summary>
public struct MicroOp
{
    public MicroKind Kind;
    /// <summary>ALU: Add/Adc/Sub/Sbb or Logic; INC/DEC: Inc or Dec.</summary>
    public FlagOp Flag;
    public LogicKind Logic;
    /// <summary>CMP and TEST record flags only.</summary>
    public bool WritesResult;
    /// <summary>
    /// The op records flags and then writes memory, which may fault: the run loop keeps the flags from
    /// before it so that the restarted instruction sees them.
    /// </summary>
    public bool SavesFlags;
    public MicroOperand DestinationKind, SourceKind;
    /// <summary>Destination (operation) size and source size in bytes.</summary>
    public byte Size, SourceSize;
    /// <summary>General register numbers (RAX=0 … R15=15); a high-byte register (AH–BH) has its flag set.</summary>
    public byte Destination, Source;
    public bool DestinationHigh, SourceHigh;
    /// <summary>Memory operand: base and index registers (<see cref="NoRegister"/> for none) and scale.</summary>
    public byte Base, Index, Scale;
    /// <summary>The memory operand's segment has base 0 (DS/ES/SS/CS in 64-bit code): no segment lookup.</summary>
    public bool FlatSegment;
    /// <summary>An operand is in memory (LEA and NOP compute or ignore theirs and do not count).</summary>
    public bool AccessesMemory;
    /// <summary>IMUL r, r/m, imm.</summary>
    public bool ThreeOperand;
    public ConditionCode Condition;
    public Mnemonic Mnemonic;
    public Register Segment;
    public ulong Immediate, Displacement;
    /// <summary>Destination-size and address-size masks.</summary>
    public ulong Mask, AddressMask;
    public ulong NextIp, Target;

    public const byte NoRegister = 0xFF;

    /// <summary>The micro-op for <paramref name="i"/> in code of <paramref name="bitness"/>: a fast form where one fits, else Generic.</summary>
    public static MicroOp Compile(in Instruction i, int bitness)
    {
        var op = new MicroOp { Kind = MicroKind.Generic, NextIp = i.NextIP, Mnemonic = i.Mnemonic };
        if (i.IsInvalid || i.HasLockPrefix || i.HasRepPrefix || i.HasRepnePrefix) return op;
        var kind = Classify(in i, ref op);
        if (kind == MicroKind.Generic) return op;
        if (!Operands(in i, ref op, kind, bitness)) return op;
        op.Kind = Specialize(kind, in op);
        op.AccessesMemory = kind is not (MicroKind.Lea or MicroKind.Nop)
            && (op.DestinationKind == MicroOperand.Memory || op.SourceKind == MicroOperand.Memory);
        op.SavesFlags = op.DestinationKind == MicroOperand.Memory && kind is MicroKind.Alu or MicroKind.IncDec or MicroKind.Shift;
        return op;
    }

    /// <summary>The register-only variant of a kind where its operands allow one.</summary>
    private static MicroKind Specialize(MicroKind kind, in MicroOp op)
    {
        bool wide = op.DestinationKind == MicroOperand.Register && op.Size >= 4
            && (op.SourceKind is MicroOperand.None or MicroOperand.Immediate || (op.SourceKind == MicroOperand.Register && op.SourceSize == op.Size));
        if (!wide) return kind;
        return kind switch
        {
            MicroKind.Alu => MicroKind.AluWide,
            MicroKind.Mov => MicroKind.MovWide,
            MicroKind.IncDec => MicroKind.IncDecWide,
            MicroKind.Shift when op.SourceKind == MicroOperand.Immediate => MicroKind.ShiftWide,
            MicroKind.Imul when op.SourceKind == MicroOperand.Register => MicroKind.ImulWide,
            _ => kind,
        };
    }

    /// <summary>The kind, and the per-kind facts that do not depend on the operands.</summary>
    private static MicroKind Classify(in Instruction i, ref MicroOp op)
    {
        switch (op.Mnemonic)
        {
            case Mnemonic.Nop or Mnemonic.Pause: return MicroKind.Nop;
            case Mnemonic.Add: return Alu(ref op, FlagOp.Add, LogicKind.And, writes: true);
            case Mnemonic.Adc: return Alu(ref op, FlagOp.Adc, LogicKind.And, writes: true);
            case Mnemonic.Sub: return Alu(ref op, FlagOp.Sub, LogicKind.And, writes: true);
            case Mnemonic.Sbb: return Alu(ref op, FlagOp.Sbb, LogicKind.And, writes: true);
            case Mnemonic.Cmp: return Alu(ref op, FlagOp.Sub, LogicKind.And, writes: false);
            case Mnemonic.And: return Alu(ref op, FlagOp.Logic, LogicKind.And, writes: true);
            case Mnemonic.Or: return Alu(ref op, FlagOp.Logic, LogicKind.Or, writes: true);
            case Mnemonic.Xor: return Alu(ref op, FlagOp.Logic, LogicKind.Xor, writes: true);
            case Mnemonic.Test: return Alu(ref op, FlagOp.Logic, LogicKind.And, writes: false);
            case Mnemonic.Mov: return MicroKind.Mov;
            case Mnemonic.Movzx: return MicroKind.MovZeroExtend;
            case Mnemonic.Movsx or Mnemonic.Movsxd: return MicroKind.MovSignExtend;
            case Mnemonic.Lea: return MicroKind.Lea;
            case Mnemonic.Inc: op.Flag = FlagOp.Inc; return MicroKind.IncDec;
            case Mnemonic.Dec: op.Flag = FlagOp.Dec; return MicroKind.IncDec;
            // Flag: the lazy-flag kind of the shifts (None for rotates, which set their flags at once).
            case Mnemonic.Shl or Mnemonic.Sal: op.Flag = FlagOp.Shl; return MicroKind.Shift;
            case Mnemonic.Shr: op.Flag = FlagOp.Shr; return MicroKind.Shift;
            case Mnemonic.Sar: op.Flag = FlagOp.Sar; return MicroKind.Shift;
            case Mnemonic.Rol or Mnemonic.Ror: return MicroKind.Shift;
            case Mnemonic.Imul when i.OpCount >= 2: return MicroKind.Imul;
            case Mnemonic.Push when i.Code is Code.Push_r64 or Code.Push_r32: return MicroKind.Push;
            case Mnemonic.Pop when i.Code is Code.Pop_r64 or Code.Pop_r32: return MicroKind.Pop;
            case Mnemonic.Call when i.Code is Code.Call_rel32_64 or Code.Call_rel32_32: op.Target = i.NearBranchTarget; return MicroKind.Call;
            case Mnemonic.Ret when i.Code is Code.Retnq or Code.Retnd: return MicroKind.Ret;
        }
        if (i.IsJccShortOrNear) { op.Condition = i.ConditionCode; op.Target = i.NearBranchTarget; return MicroKind.Jcc; }
        if (i.IsJmpShortOrNear) { op.Target = i.NearBranchTarget; return MicroKind.Jmp; }
        if (IsSetcc(op.Mnemonic)) { op.Condition = i.ConditionCode; return MicroKind.Setcc; }
        if (IsCmovcc(op.Mnemonic)) { op.Condition = i.ConditionCode; return MicroKind.Cmovcc; }
        return MicroKind.Generic;
    }

    private static bool IsSetcc(Mnemonic m) => m is Mnemonic.Seta or Mnemonic.Setae or Mnemonic.Setb or Mnemonic.Setbe
        or Mnemonic.Sete or Mnemonic.Setg or Mnemonic.Setge or Mnemonic.Setl or Mnemonic.Setle or Mnemonic.Setne or Mnemonic.Setno
        or Mnemonic.Setnp or Mnemonic.Setns or Mnemonic.Seto or Mnemonic.Setp or Mnemonic.Sets;

    private static bool IsCmovcc(Mnemonic m) => m is Mnemonic.Cmova or Mnemonic.Cmovae or Mnemonic.Cmovb or Mnemonic.Cmovbe
        or Mnemonic.Cmove or Mnemonic.Cmovg or Mnemonic.Cmovge or Mnemonic.Cmovl or Mnemonic.Cmovle or Mnemonic.Cmovne
        or Mnemonic.Cmovno or Mnemonic.Cmovnp or Mnemonic.Cmovns or Mnemonic.Cmovo or Mnemonic.Cmovp or Mnemonic.Cmovs;

    private static MicroKind Alu(ref MicroOp op, FlagOp flag, LogicKind logic, bool writes)
    {
        (op.Flag, op.Logic, op.WritesResult) = (flag, logic, writes);
        return MicroKind.Alu;
    }

    /// <summary>Fills the operand fields; false when an operand is not a general register, plain memory or an immediate.</summary>
    private static bool Operands(in Instruction i, ref MicroOp op, MicroKind kind, int bitness)
    {
        switch (kind)
        {
            case MicroKind.Nop:
                return true;   // a NOP's operands (NOP r/m) are never accessed
            case MicroKind.Call or MicroKind.Ret or MicroKind.Jcc or MicroKind.Jmp:
                // Near CALL/RET with the default operand size: 8 bytes in 64-bit code, else 4 (Call_rel32_32/Retnd only).
                op.Size = (byte)(bitness == 64 ? 8 : 4);
                return true;
            case MicroKind.Push or MicroKind.Pop:
                // The register is the operand; the stack is reached through Push/Pop.
                return Place(in i, 0, ref op.DestinationKind, ref op.Destination, ref op.DestinationHigh, ref op.Size, ref op, bitness);
        }
        int count = i.OpCount;
        if (count < 1 || !Place(in i, 0, ref op.DestinationKind, ref op.Destination, ref op.DestinationHigh, ref op.Size, ref op, bitness))
            return false;
        op.Mask = Executor.Mask(op.Size);
        if (count == 1) return kind is MicroKind.IncDec or MicroKind.Setcc;
        if (!Place(in i, 1, ref op.SourceKind, ref op.Source, ref op.SourceHigh, ref op.SourceSize, ref op, bitness))
            return false;
        if (op.SourceKind == MicroOperand.Immediate) op.Immediate = i.GetImmediate(1) & op.Mask;
        // A shift count is masked to 5 bits (6 for 64-bit operands) by the CPU: done once here.
        if (kind == MicroKind.Shift && op.SourceKind == MicroOperand.Immediate) op.Immediate &= op.Size == 8 ? 0x3FUL : 0x1FUL;
        switch (kind)
        {
            case MicroKind.Imul when count == 3:
                if (i.Op2Kind is OpKind.Register or OpKind.Memory) return false;
                op.Immediate = i.GetImmediate(2) & op.Mask;
                op.ThreeOperand = true;
                return op.DestinationKind == MicroOperand.Register;
            case var _ when count != 2:
                return false;
            case MicroKind.Lea:
                return op.DestinationKind == MicroOperand.Register && op.SourceKind == MicroOperand.Memory;
            case MicroKind.Shift:
                return op.SourceKind == MicroOperand.Immediate || (op.SourceKind == MicroOperand.Register && i.Op1Register == Register.CL);
            case MicroKind.MovZeroExtend or MicroKind.MovSignExtend or MicroKind.Cmovcc or MicroKind.Imul:
                return op.DestinationKind == MicroOperand.Register && op.SourceKind != MicroOperand.Immediate;
            case MicroKind.Alu or MicroKind.Mov:
                // Same sizes (an immediate was sign-extended to the operand size by the encoding).
                return op.SourceKind == MicroOperand.Immediate || op.SourceSize == op.Size;
            default:
                return false;
        }
    }

    /// <summary>One operand: a general register (any width), a memory operand with 32/64-bit addressing, or an immediate.</summary>
    private static bool Place(in Instruction i, int n, ref MicroOperand kind, ref byte register, ref bool high, ref byte size, ref MicroOp op, int bitness)
    {
        switch (i.GetOpKind(n))
        {
            case OpKind.Register:
            {
                var slot = RegisterFile.Of(i.GetOpRegister(n));
                if (slot.Index < 0) return false;
                (kind, register, high, size) = (MicroOperand.Register, (byte)slot.Index, slot.HighByte, slot.Size);
                return true;
            }
            case OpKind.Memory:
                kind = MicroOperand.Memory;
                size = (byte)i.MemorySize.GetSize();
                return size is 1 or 2 or 4 or 8 || op.Mnemonic == Mnemonic.Lea || op.Mnemonic == Mnemonic.Nop
                    ? Memory(in i, ref op, bitness) : false;
            case OpKind.Immediate8 or OpKind.Immediate16 or OpKind.Immediate32 or OpKind.Immediate64
                or OpKind.Immediate8to16 or OpKind.Immediate8to32 or OpKind.Immediate8to64 or OpKind.Immediate32to64:
                kind = MicroOperand.Immediate;
                return true;
            default:
                return false;
        }
    }

    /// <summary>Base + index × scale + displacement with general registers (RIP-relative folded into the displacement).</summary>
    private static bool Memory(in Instruction i, ref MicroOp op, int bitness)
    {
        op.Segment = i.MemorySegment;
        // In 64-bit code only FS and GS have a base (SDM vol 1 §3.4.2.1).
        op.FlatSegment = bitness == 64 && op.Segment is not (Register.FS or Register.GS);
        if (i.IsIPRelativeMemoryOperand)
        {
            (op.Base, op.Index, op.Scale, op.Displacement, op.AddressMask) = (NoRegister, NoRegister, 1, i.IPRelativeMemoryAddress, ulong.MaxValue);
            return true;
        }
        var baseRegister = i.MemoryBase;
        var index = i.MemoryIndex;
        if (baseRegister == Register.None) op.Base = NoRegister;
        else if (!AddressRegister(baseRegister, out op.Base)) return false;
        if (index == Register.None) op.Index = NoRegister;
        else if (!AddressRegister(index, out op.Index)) return false;
        int addressSize = baseRegister != Register.None ? baseRegister.GetSize() : index != Register.None ? index.GetSize() : i.MemoryDisplSize;
        if (addressSize is not (4 or 8)) return false;   // 16-bit addressing wraps differently: the generic path
        op.AddressMask = addressSize == 4 ? 0xFFFF_FFFF : ulong.MaxValue;
        op.Scale = (byte)i.MemoryIndexScale;
        op.Displacement = i.MemoryDisplacement64;
        return true;
    }

    private static bool AddressRegister(Register register, out byte number)
    {
        var slot = RegisterFile.Of(register);
        number = (byte)slot.Index;
        return slot.Index >= 0 && slot.Size >= 4;
    }
}
