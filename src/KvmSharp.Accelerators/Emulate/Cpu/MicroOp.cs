using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>The pre-decoded forms that <see cref="Executor.StepFast"/> runs without going back to Iced's operand accessors.</summary>
public enum MicroKind : byte
{
    /// <summary>Anything else: <see cref="Executor.Step"/> on the Iced instruction.</summary>
    Generic,
    /// <summary>ADD/ADC/SUB/SBB/CMP or AND/OR/XOR/TEST, 32/64-bit register destination, register or immediate source.</summary>
    AluRegister,
    AluImmediate,
    /// <summary>MOV 32/64-bit register from register / immediate; LEA (the address is computed, never accessed).</summary>
    MoveRegister,
    MoveImmediate,
    Lea,
    /// <summary>MOV 32/64-bit register from / to a memory operand.</summary>
    Load,
    Store,
    IncDec,
    /// <summary>Shift or rotate of a 32/64-bit register by an immediate count.</summary>
    ShiftImmediate,
    Jcc,
    Jmp,
}

/// <summary>Which ALU family an <see cref="MicroKind.AluRegister"/>/<see cref="MicroKind.AluImmediate"/> op belongs to.</summary>
public enum LogicKind : byte { And, Or, Xor }

/// <summary>
/// One instruction in a form that needs no decoding work at run time: register numbers, operand size,
/// immediate and branch targets extracted once when the block is decoded. Only the commonest operand
/// forms get one; the semantics stay in <see cref="Executor"/>'s value functions, which the generic path
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
    /// <summary>Operand size in bytes (4 or 8).</summary>
    public byte Size;
    /// <summary>General register numbers (RAX=0 … R15=15); <see cref="NoRegister"/> for none.</summary>
    public byte Destination, Source, Base, Index;
    public byte Scale;
    public ConditionCode Condition;
    public Mnemonic Mnemonic;
    public Register Segment;
    /// <summary>Immediate (already masked to the operand size), or the displacement of a memory operand.</summary>
    public ulong Immediate;
    /// <summary>Operand-size and address-size masks.</summary>
    public ulong Mask, AddressMask;
    public ulong NextIp, Target;

    public const byte NoRegister = 0xFF;

    /// <summary>The micro-op for <paramref name="i"/>: a fast form where one fits, else <see cref="MicroKind.Generic"/>.</summary>
    public static MicroOp Compile(in Instruction i)
    {
        var op = new MicroOp { Kind = MicroKind.Generic, NextIp = i.NextIP, Mnemonic = i.Mnemonic };
        if (i.IsInvalid || i.HasLockPrefix || i.HasRepPrefix || i.HasRepnePrefix) return op;
        switch (op.Mnemonic)
        {
            case Mnemonic.Add: CompileAlu(in i, ref op, FlagOp.Add, LogicKind.And, writes: true); break;
            case Mnemonic.Adc: CompileAlu(in i, ref op, FlagOp.Adc, LogicKind.And, writes: true); break;
            case Mnemonic.Sub: CompileAlu(in i, ref op, FlagOp.Sub, LogicKind.And, writes: true); break;
            case Mnemonic.Sbb: CompileAlu(in i, ref op, FlagOp.Sbb, LogicKind.And, writes: true); break;
            case Mnemonic.Cmp: CompileAlu(in i, ref op, FlagOp.Sub, LogicKind.And, writes: false); break;
            case Mnemonic.And: CompileAlu(in i, ref op, FlagOp.Logic, LogicKind.And, writes: true); break;
            case Mnemonic.Or: CompileAlu(in i, ref op, FlagOp.Logic, LogicKind.Or, writes: true); break;
            case Mnemonic.Xor: CompileAlu(in i, ref op, FlagOp.Logic, LogicKind.Xor, writes: true); break;
            case Mnemonic.Test: CompileAlu(in i, ref op, FlagOp.Logic, LogicKind.And, writes: false); break;
            case Mnemonic.Mov: CompileMov(in i, ref op); break;
            case Mnemonic.Lea: CompileLea(in i, ref op); break;
            case Mnemonic.Inc or Mnemonic.Dec:
                if (i.Op0Kind == OpKind.Register && Wide(i.Op0Register, ref op, out op.Destination))
                {
                    op.Kind = MicroKind.IncDec;
                    op.Flag = op.Mnemonic == Mnemonic.Inc ? FlagOp.Inc : FlagOp.Dec;
                }
                break;
            case Mnemonic.Shl or Mnemonic.Sal or Mnemonic.Shr or Mnemonic.Sar or Mnemonic.Rol or Mnemonic.Ror:
                if (i.OpCount == 2 && i.Op0Kind == OpKind.Register && i.Op1Kind == OpKind.Immediate8
                    && Wide(i.Op0Register, ref op, out op.Destination))
                {
                    op.Kind = MicroKind.ShiftImmediate;
                    op.Immediate = i.Immediate8 & (op.Size == 8 ? 0x3FUL : 0x1FUL);
                }
                break;
            default:
                if (i.IsJccShortOrNear) { op.Kind = MicroKind.Jcc; op.Condition = i.ConditionCode; op.Target = i.NearBranchTarget; }
                else if (i.IsJmpShortOrNear) { op.Kind = MicroKind.Jmp; op.Target = i.NearBranchTarget; }
                break;
        }
        return op;
    }

    private static void CompileAlu(in Instruction i, ref MicroOp op, FlagOp flag, LogicKind logic, bool writes)
    {
        if (i.OpCount != 2 || i.Op0Kind != OpKind.Register || !Wide(i.Op0Register, ref op, out op.Destination)) return;
        var sourceKind = i.Op1Kind;
        if (sourceKind == OpKind.Register)
        {
            if (!Wide(i.Op1Register, ref op, out op.Source)) return;
            op.Kind = MicroKind.AluRegister;
        }
        else if (sourceKind == OpKind.Memory) return;
        else
        {
            op.Kind = MicroKind.AluImmediate;
            op.Immediate = i.GetImmediate(1) & op.Mask;
        }
        (op.Flag, op.Logic, op.WritesResult) = (flag, logic, writes);
    }

    private static void CompileMov(in Instruction i, ref MicroOp op)
    {
        if (i.Op0Kind == OpKind.Register)
        {
            if (!Wide(i.Op0Register, ref op, out op.Destination)) return;
            switch (i.Op1Kind)
            {
                case OpKind.Register:
                    if (Wide(i.Op1Register, ref op, out op.Source)) op.Kind = MicroKind.MoveRegister;
                    return;
                case OpKind.Memory:
                    if (CompileMemory(in i, ref op)) op.Kind = MicroKind.Load;
                    return;
                default:
                    op.Kind = MicroKind.MoveImmediate;
                    op.Immediate = i.GetImmediate(1) & op.Mask;
                    return;
            }
        }
        if (i.Op0Kind == OpKind.Memory && i.Op1Kind == OpKind.Register && Wide(i.Op1Register, ref op, out op.Source)
            && CompileMemory(in i, ref op))
            op.Kind = MicroKind.Store;
    }

    private static void CompileLea(in Instruction i, ref MicroOp op)
    {
        if (i.Op0Kind != OpKind.Register || !Wide(i.Op0Register, ref op, out op.Destination) || !CompileMemory(in i, ref op)) return;
        op.Kind = MicroKind.Lea;
    }

    /// <summary>Base + index × scale + displacement with general registers (RIP-relative folded into the displacement).</summary>
    private static bool CompileMemory(in Instruction i, ref MicroOp op)
    {
        op.Segment = i.MemorySegment;
        if (i.IsIPRelativeMemoryOperand)
        {
            (op.Base, op.Index, op.Scale, op.Immediate, op.AddressMask) = (NoRegister, NoRegister, 1, i.IPRelativeMemoryAddress, ulong.MaxValue);
            return true;
        }
        var baseRegister = i.MemoryBase;
        var index = i.MemoryIndex;
        int addressSize;
        if (baseRegister == Register.None) op.Base = NoRegister;
        else if (!GeneralAddressRegister(baseRegister, out op.Base)) return false;
        if (index == Register.None) op.Index = NoRegister;
        else if (!GeneralAddressRegister(index, out op.Index)) return false;
        addressSize = baseRegister != Register.None ? baseRegister.GetSize() : index != Register.None ? index.GetSize() : i.MemoryDisplSize;
        if (addressSize == 2) return false;   // 16-bit addressing wraps differently: the generic path
        op.AddressMask = addressSize == 4 ? 0xFFFF_FFFF : ulong.MaxValue;
        op.Scale = (byte)i.MemoryIndexScale;
        op.Immediate = i.MemoryDisplacement64;
        return true;
    }

    private static bool GeneralAddressRegister(Register register, out byte number)
    {
        var slot = RegisterFile.Of(register);
        number = (byte)slot.Index;
        return slot.Index >= 0 && slot.Size >= 4;
    }

    /// <summary>A 32- or 64-bit general register whose size matches the op's (the first one sets it).</summary>
    private static bool Wide(Register register, ref MicroOp op, out byte number)
    {
        var slot = RegisterFile.Of(register);
        number = (byte)slot.Index;
        if (slot.Index < 0 || slot.Size < 4) return false;
        if (op.Size == 0)
        {
            op.Size = slot.Size;
            op.Mask = slot.Size == 8 ? ulong.MaxValue : 0xFFFF_FFFF;
        }
        return op.Size == slot.Size;
    }
}
