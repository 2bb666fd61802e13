using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// String instructions with REP/REPE/REPNE (SDM vol 1 §7.3.9). A repeated instruction runs its whole
// count here, but stops early (leaving RIP on itself) every 4096 elements so a pending kick or
// interrupt is not held up, as hardware lets interrupts in between iterations.
public sealed partial class Executor
{
    private const int StringChunk = 4096;

    private static int OperandSizeOfString(in Instruction i) => i.MemorySize.GetSize() is var s and > 0 ? s : 1;

    /// <summary>The address size of a string instruction, from Iced's memory operand kind (rSI/rDI width).</summary>
    private static int StringAddressSize(in Instruction i)
    {
        for (int op = 0; op < i.OpCount; op++)
        {
            switch (i.GetOpKind(op))
            {
                case OpKind.MemorySegSI: case OpKind.MemoryESDI: case OpKind.MemorySegDI: return 2;
                case OpKind.MemorySegESI: case OpKind.MemoryESEDI: case OpKind.MemorySegEDI: return 4;
                case OpKind.MemorySegRSI: case OpKind.MemoryESRDI: case OpKind.MemorySegRDI: return 8;
            }
        }
        return 8;
    }

    private void AdvanceIndex(int register, int size, int addressSize)
    {
        ulong step = (_cpu.SystemFlags & CpuState.FlagDirection) != 0 ? (ulong)-size : (ulong)size;
        ulong value = (_gpr[register] + step) & Mask(addressSize);
        _gpr[register] = addressSize == 8 ? value : addressSize == 4 ? value : (_gpr[register] & ~0xFFFFUL) | value;
    }

    private void SetCounter(ulong count, int addressSize)
    {
        _gpr[CpuState.Rcx] = addressSize == 8 ? count : addressSize == 4 ? count & 0xFFFF_FFFF : (_gpr[CpuState.Rcx] & ~0xFFFFUL) | (count & 0xFFFF);
    }

    private StepResult StringInstruction(in Instruction i)
    {
        int size = OperandSizeOfString(in i);
        int addressSize = StringAddressSize(in i);
        bool repeat = i.HasRepPrefix || i.HasRepePrefix || i.HasRepnePrefix;
        bool compares = i.Mnemonic is Mnemonic.Cmpsb or Mnemonic.Cmpsw or Mnemonic.Cmpsd or Mnemonic.Cmpsq
            or Mnemonic.Scasb or Mnemonic.Scasw or Mnemonic.Scasd or Mnemonic.Scasq;
        var sourceSegment = i.MemorySegment;
        for (int n = 0; ; n++)
        {
            if (repeat && (_gpr[CpuState.Rcx] & Mask(addressSize)) == 0) return StepResult.Continue;
            if (repeat && n == StringChunk)
            {
                _nextRip = i.IP;   // resume here after the run loop has looked at kicks and interrupts
                return StepResult.Continue;
            }
            ulong source = Linear(sourceSegment, _gpr[CpuState.Rsi] & Mask(addressSize));
            ulong destination = Linear(Register.ES, _gpr[CpuState.Rdi] & Mask(addressSize));
            switch (i.Mnemonic)
            {
                case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsd: case Mnemonic.Movsq:
                    _mmu.Write(destination, size, _mmu.Read(source, size));
                    AdvanceIndex(CpuState.Rsi, size, addressSize);
                    AdvanceIndex(CpuState.Rdi, size, addressSize);
                    break;
                case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd: case Mnemonic.Stosq:
                    _mmu.Write(destination, size, _gpr[0] & Mask(size));
                    AdvanceIndex(CpuState.Rdi, size, addressSize);
                    break;
                case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd: case Mnemonic.Lodsq:
                    RegisterFile.Write(_gpr, size switch { 1 => Register.AL, 2 => Register.AX, 4 => Register.EAX, _ => Register.RAX }, _mmu.Read(source, size));
                    AdvanceIndex(CpuState.Rsi, size, addressSize);
                    break;
                case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsd: case Mnemonic.Cmpsq:
                {
                    ulong left = _mmu.Read(source, size), right = _mmu.Read(destination, size);
                    _cpu.Flags.Set(FlagOp.Sub, size, (left - right) & Mask(size), left, right);
                    AdvanceIndex(CpuState.Rsi, size, addressSize);
                    AdvanceIndex(CpuState.Rdi, size, addressSize);
                    break;
                }
                default: // SCAS
                {
                    ulong left = _gpr[0] & Mask(size), right = _mmu.Read(destination, size);
                    _cpu.Flags.Set(FlagOp.Sub, size, (left - right) & Mask(size), left, right);
                    AdvanceIndex(CpuState.Rdi, size, addressSize);
                    break;
                }
            }
            if (!repeat) return StepResult.Continue;
            SetCounter((_gpr[CpuState.Rcx] - 1) & Mask(addressSize), addressSize);
            if (compares && (i.HasRepePrefix ? !_cpu.Flags.Zero : i.HasRepnePrefix && _cpu.Flags.Zero)) return StepResult.Continue;
        }
    }
}
