using System.Buffers.Binary;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Data movement: MOV and friends, the stack, sign extension, conditional moves (SDM vol 1 §7.3.1).
public sealed partial class Executor
{
    private void Mov(in Instruction i)
    {
        // The common case first: general register or memory destination, general register/immediate/memory source.
        var kind0 = i.Op0Kind;
        var kind1 = i.Op1Kind;
        if ((kind0 != OpKind.Register || RegisterFile.IsGeneral(i.Op0Register)) && (kind1 != OpKind.Register || RegisterFile.IsGeneral(i.Op1Register)))
        {
            int width = kind0 == OpKind.Register ? i.Op0Register.GetSize() : i.MemorySize.GetSize();
            WriteOperand(in i, 0, width, ReadOperand(in i, 1, width));
            return;
        }
        var destination = i.Op0Kind == OpKind.Register ? i.Op0Register : Register.None;
        var source = i.Op1Kind == OpKind.Register ? i.Op1Register : Register.None;
        if (destination.IsCR() || destination.IsDR() || source.IsCR() || source.IsDR())
        {
            MoveControlRegister(in i);
            return;
        }
        if (destination.IsSegmentRegister())
        {
            LoadSegment(destination, (ushort)ReadOperand(in i, 1, 2));
            // MOV SS holds interrupts off until after the next instruction, so SS:RSP change together (SDM vol 2 "MOV").
            if (destination == Register.SS) _interruptShadow = true;
            return;
        }
        if (source.IsSegmentRegister())
        {
            // MOV r/m, Sreg: 16 bits to memory; zero-extended into a 32/64-bit register.
            ulong selector = _cpu.Segments[SegmentIndex(source)].Selector;
            WriteOperand(in i, 0, i.Op0Kind == OpKind.Register ? i.Op0Register.GetSize() : 2, selector);
            return;
        }
        int size = OperandSize(in i, 0);
        if (size == 0) size = OperandSize(in i, 1);
        WriteOperand(in i, 0, size, ReadOperand(in i, 1, size));
    }

    private void Movsx(in Instruction i)
    {
        int from = OperandSize(in i, 1), to = OperandSize(in i, 0);
        WriteOperand(in i, 0, to, SignExtend(ReadOperand(in i, 1, from), from) & Mask(to));
    }

    private void Lea(in Instruction i) => WriteOperand(in i, 0, OperandSize(in i, 0), EffectiveAddress(in i));

    private void Xchg(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong a = ReadOperand(in i, 0, size), b = ReadOperand(in i, 1, size);
        // Memory first: if it faults, neither operand has changed.
        if (i.Op0Kind == OpKind.Memory) { WriteOperand(in i, 0, size, b); WriteOperand(in i, 1, size, a); }
        else { WriteOperand(in i, 1, size, a); WriteOperand(in i, 0, size, b); }
    }

    private void PushInstruction(in Instruction i)
    {
        int size = i.StackPointerIncrement < 0 ? -i.StackPointerIncrement : 8;
        ulong value = i.Op0Kind switch
        {
            OpKind.Register when i.Op0Register.IsSegmentRegister() => _cpu.Segments[SegmentIndex(i.Op0Register)].Selector,
            OpKind.Register or OpKind.Memory => ReadOperand(in i, 0, size),
            _ => i.GetImmediate(0),
        };
        Push(value & Mask(size), size);
    }

    private void PopInstruction(in Instruction i)
    {
        int size = i.StackPointerIncrement > 0 ? i.StackPointerIncrement : 8;
        if (i.Op0Kind == OpKind.Register && i.Op0Register.IsSegmentRegister())
        {
            ulong sp = StackPointer;
            ushort selector = (ushort)_mmu.Read(Linear(Register.SS, sp), 2);
            LoadSegment(i.Op0Register, selector);
            if (i.Op0Register == Register.SS) _interruptShadow = true;   // as MOV SS (SDM vol 2 "POP")
            StackPointer = sp + (ulong)size;
            return;
        }
        ulong value = Pop(size);
        // POP [rsp+x] computes its address after RSP was incremented (SDM "POP").
        WriteOperand(in i, 0, size, value);
    }

    private void SignExtendAccumulator(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Cbw: RegisterFile.Write(_gpr, Register.AX, SignExtend(_gpr[0] & 0xFF, 1)); break;
            case Mnemonic.Cwde: RegisterFile.Write(_gpr, Register.EAX, SignExtend(_gpr[0] & 0xFFFF, 2)); break;
            default: _gpr[0] = SignExtend(_gpr[0] & 0xFFFF_FFFF, 4); break;
        }
    }

    private void SignExtendIntoDx(in Instruction i)
    {
        int size = i.Mnemonic switch { Mnemonic.Cwd => 2, Mnemonic.Cdq => 4, _ => 8 };
        bool negative = (_gpr[0] & (1UL << (size * 8 - 1))) != 0;
        var target = size switch { 2 => Register.DX, 4 => Register.EDX, _ => Register.RDX };
        RegisterFile.Write(_gpr, target, negative ? ulong.MaxValue : 0);
    }

    private void Cmov(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong value = ReadOperand(in i, 1, size);   // the source is read (and may fault) even when the condition fails
        if (Condition(i.ConditionCode)) WriteOperand(in i, 0, size, value);
        else if (size == 4) WriteOperand(in i, 0, 4, ReadOperand(in i, 0, 4)); // a 32-bit CMOV zero-extends even when false
    }

    private void Bswap(in Instruction i)
    {
        int size = OperandSize(in i, 0);
        ulong value = ReadOperand(in i, 0, size);
        WriteOperand(in i, 0, size, size == 8 ? BinaryPrimitives.ReverseEndianness(value)
            : size == 4 ? BinaryPrimitives.ReverseEndianness((uint)value) : 0); // BSWAP r16 is undefined; zero as many CPUs do
    }

    private void Leave(in Instruction i)
    {
        // The operand size is in the code: Iced reports no stack increment for LEAVE (RSP comes from RBP).
        int size = i.Code switch { Code.Leavew => 2, Code.Leaved => 4, _ => 8 };
        StackPointer = _gpr[CpuState.Rbp] & Mask(StackAddressSize);
        ulong rbp = Pop(size);
        RegisterFile.Write(_gpr, size == 8 ? Register.RBP : size == 4 ? Register.EBP : Register.BP, rbp);
    }

    private static int SegmentIndex(Register segment) => segment switch
    {
        Register.ES => CpuState.Es, Register.CS => CpuState.Cs, Register.SS => CpuState.Ss,
        Register.DS => CpuState.Ds, Register.FS => CpuState.Fs, _ => CpuState.Gs,
    };
}
