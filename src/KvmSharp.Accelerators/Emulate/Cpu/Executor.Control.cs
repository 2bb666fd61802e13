using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Near and far transfers of control (SDM vol 1 §6.3, vol 2 "CALL", "JMP", "RET", "LOOP").
public sealed partial class Executor
{
    /// <summary>Size of a pushed return address / popped RIP: the operand size of the near branch.</summary>
    private static int BranchSize(in Instruction i) => i.Op0Kind switch
    {
        OpKind.NearBranch16 => 2,
        OpKind.NearBranch32 => 4,
        OpKind.NearBranch64 => 8,
        OpKind.Register => i.Op0Register.GetSize(),
        OpKind.Memory => i.MemorySize.GetSize(),
        _ => 8,
    };

    private StepResult Jump(in Instruction i)
    {
        switch (i.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
            case OpKind.NearBranch64:
                _nextRip = i.NearBranchTarget;
                return StepResult.Continue;
            case OpKind.FarBranch16:
            case OpKind.FarBranch32:
                FarJump(i.FarBranchSelector, i.Op0Kind == OpKind.FarBranch16 ? i.FarBranch16 : i.FarBranch32);
                return StepResult.EndBlock;
            default:
                if (i.MemorySize is MemorySize.SegPtr16 or MemorySize.SegPtr32 or MemorySize.SegPtr64)
                {
                    var (selector, offset) = ReadFarPointer(in i);
                    FarJump(selector, offset);
                    return StepResult.EndBlock;
                }
                _nextRip = ReadOperand(in i, 0, BranchSize(in i));
                return StepResult.Continue;
        }
    }

    private StepResult Call(in Instruction i)
    {
        int size = BranchSize(in i);
        switch (i.Op0Kind)
        {
            case OpKind.NearBranch16:
            case OpKind.NearBranch32:
            case OpKind.NearBranch64:
                Push(i.NextIP & Mask(size), size);
                _nextRip = i.NearBranchTarget;
                return StepResult.Continue;
            case OpKind.FarBranch16:
            case OpKind.FarBranch32:
                FarCall(i.FarBranchSelector, i.Op0Kind == OpKind.FarBranch16 ? i.FarBranch16 : i.FarBranch32, i.Op0Kind == OpKind.FarBranch16 ? 2 : 4, i.NextIP);
                return StepResult.EndBlock;
            default:
                if (i.MemorySize is MemorySize.SegPtr16 or MemorySize.SegPtr32 or MemorySize.SegPtr64)
                {
                    var (selector, offset) = ReadFarPointer(in i);
                    FarCall(selector, offset, i.MemorySize == MemorySize.SegPtr16 ? 2 : i.MemorySize == MemorySize.SegPtr32 ? 4 : 8, i.NextIP);
                    return StepResult.EndBlock;
                }
                ulong target = ReadOperand(in i, 0, size);
                Push(i.NextIP & Mask(size), size);
                _nextRip = target;
                return StepResult.Continue;
        }
    }

    private void Ret(in Instruction i)
    {
        int size = i.StackPointerIncrement switch
        {
            _ when i.Code is Code.Retnw or Code.Retnw_imm16 => 2,
            _ when i.Code is Code.Retnd or Code.Retnd_imm16 => 4,
            _ => 8,
        };
        ulong target = Pop(size);
        if (i.OpCount > 0) StackPointer += i.Immediate16;
        _nextRip = target;
    }

    private void Loop(in Instruction i)
    {
        // The counter is CX, ECX or RCX by address size; Iced names it in the code (Loop_rel8_16_CX …).
        int counterSize = i.Code switch
        {
            Code.Loop_rel8_16_CX or Code.Loop_rel8_32_CX or Code.Loope_rel8_16_CX or Code.Loope_rel8_32_CX
                or Code.Loopne_rel8_16_CX or Code.Loopne_rel8_32_CX => 2,
            Code.Loop_rel8_16_ECX or Code.Loop_rel8_32_ECX or Code.Loop_rel8_64_ECX or Code.Loope_rel8_16_ECX
                or Code.Loope_rel8_32_ECX or Code.Loope_rel8_64_ECX or Code.Loopne_rel8_16_ECX or Code.Loopne_rel8_32_ECX
                or Code.Loopne_rel8_64_ECX => 4,
            _ => 8,
        };
        ulong count = (_gpr[CpuState.Rcx] - 1) & Mask(counterSize);
        RegisterFile.Write(_gpr, counterSize switch { 2 => Register.CX, 4 => Register.ECX, _ => Register.RCX }, count);
        bool taken = count != 0 && i.Mnemonic switch
        {
            Mnemonic.Loope => _cpu.Flags.Zero,
            Mnemonic.Loopne => !_cpu.Flags.Zero,
            _ => true,
        };
        if (taken) _nextRip = i.NearBranchTarget;
    }

    private (ushort Selector, ulong Offset) ReadFarPointer(in Instruction i)
    {
        int offsetSize = i.MemorySize switch { MemorySize.SegPtr16 => 2, MemorySize.SegPtr32 => 4, _ => 8 };
        ulong address = MemoryLinear(in i);
        ulong offset = _mmu.Read(address, offsetSize);
        ushort selector = (ushort)_mmu.Read(address + (ulong)offsetSize, 2);
        return (selector, offset);
    }

    private void FarJump(ushort selector, ulong offset)
    {
        LoadCodeSegment(selector);
        _nextRip = offset;
    }

    private void FarCall(ushort selector, ulong offset, int size, ulong returnRip)
    {
        ushort oldCs = _cpu.Segments[CpuState.Cs].Selector;
        Push(oldCs, size);
        Push(returnRip, size);
        LoadCodeSegment(selector);
        _nextRip = offset;
    }
}
