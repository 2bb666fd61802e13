using System.Numerics;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The 16- and 32-bit instructions that 64-bit code cannot use but firmware, boot loaders and Linux's real-mode setup
// do (SDM vol 2 for each): PUSHA/POPA, far-pointer loads, ENTER, XLAT, the BCD adjustments, SALC. Each is #UD in
// 64-bit mode, which Iced's decoder already enforces by decoding them as invalid there.
public sealed partial class Executor
{
    private bool TryExecuteLegacy(in Instruction i, out StepResult result)
    {
        result = StepResult.Continue;
        switch (i.Mnemonic)
        {
            case Mnemonic.Pusha: PushAll(2); break;
            case Mnemonic.Pushad: PushAll(4); break;
            case Mnemonic.Popa: PopAll(2); break;
            case Mnemonic.Popad: PopAll(4); break;
            case Mnemonic.Lds: LoadFarPointer(in i, Register.DS); break;
            case Mnemonic.Les: LoadFarPointer(in i, Register.ES); break;
            case Mnemonic.Lss: LoadFarPointer(in i, Register.SS); break;
            case Mnemonic.Lfs: LoadFarPointer(in i, Register.FS); break;
            case Mnemonic.Lgs: LoadFarPointer(in i, Register.GS); break;
            case Mnemonic.Enter: Enter(in i); break;
            case Mnemonic.Xlatb: RegisterFile.Write(_gpr, Register.AL, ReadOperand(in i, 0, 1)); break;
            case Mnemonic.Daa: DecimalAdjust(subtract: false); break;
            case Mnemonic.Das: DecimalAdjust(subtract: true); break;
            case Mnemonic.Aaa: AsciiAdjust(subtract: false); break;
            case Mnemonic.Aas: AsciiAdjust(subtract: true); break;
            case Mnemonic.Aam: AsciiAdjustMultiply((byte)i.Immediate8); break;
            case Mnemonic.Aad: AsciiAdjustDivide((byte)i.Immediate8); break;
            case Mnemonic.Salc: RegisterFile.Write(_gpr, Register.AL, _cpu.Flags.Carry ? 0xFFUL : 0); break;
            default: return false;
        }
        return true;
    }

    /// <summary>PUSHA/PUSHAD: AX CX DX BX, SP as it was before the first push, BP SI DI.</summary>
    private void PushAll(int size)
    {
        ulong originalSp = _gpr[CpuState.Rsp];
        for (int r = 0; r < 8; r++) Push((r == CpuState.Rsp ? originalSp : _gpr[r]) & Mask(size), size);
    }

    /// <summary>POPA/POPAD: the reverse, skipping the saved SP.</summary>
    private void PopAll(int size)
    {
        for (int r = 7; r >= 0; r--)
        {
            ulong value = Pop(size);
            if (r != CpuState.Rsp) _gpr[r] = size == 4 ? value : (_gpr[r] & ~0xFFFFUL) | value;
        }
    }

    /// <summary>LDS/LES/LSS/LFS/LGS: an offset of the register's size, then a 16-bit selector, from memory.</summary>
    private void LoadFarPointer(in Instruction i, Register segment)
    {
        int size = i.Op0Register.GetSize();
        ulong linear = MemoryLinear(in i);
        ulong offset = _mmu.Read(linear, size);
        ushort selector = (ushort)_mmu.Read(_cpu.LongModeActive ? linear + (ulong)size : (linear + (ulong)size) & 0xFFFF_FFFF, 2);
        LoadSegment(segment, selector);
        RegisterFile.Write(_gpr, i.Op0Register, offset);
    }

    /// <summary>ENTER size, level: a stack frame with <c>level</c> frame pointers copied from the caller's (level mod 32).</summary>
    private void Enter(in Instruction i)
    {
        int size = i.Code switch { Code.Enterw_imm16_imm8 => 2, Code.Enterd_imm16_imm8 => 4, _ => 8 };
        ulong frameSize = i.Immediate16;
        int level = i.Immediate8_2nd & 31;
        var bp = size == 8 ? Register.RBP : size == 4 ? Register.EBP : Register.BP;
        Push(RegisterFile.Read(_gpr, bp), size);
        ulong frame = StackPointer;
        if (level > 0)
        {
            // The caller's frame pointers are walked with the stack's address size, whatever the operand size.
            var walk = StackAddressSize == 8 ? Register.RBP : StackAddressSize == 4 ? Register.EBP : Register.BP;
            for (int n = 1; n < level; n++)
            {
                ulong framePointer = (RegisterFile.Read(_gpr, walk) - (ulong)size) & Mask(StackAddressSize);
                RegisterFile.Write(_gpr, walk, framePointer);
                Push(_mmu.Read(Linear(Register.SS, framePointer), size), size);
            }
            Push(frame, size);
        }
        RegisterFile.Write(_gpr, bp, frame);
        StackPointer = (StackPointer - frameSize) & Mask(StackAddressSize);
    }

    /// <summary>DAA/DAS: AL as two packed BCD digits after an 8-bit ADD/SUB (SDM vol 2 "DAA", "DAS"); OF is undefined (0).</summary>
    private void DecimalAdjust(bool subtract)
    {
        byte al = (byte)_gpr[CpuState.Rax], oldAl = al;
        bool oldCarry = _cpu.Flags.Carry, carry = false, adjust = false;
        if ((al & 0xF) > 9 || _cpu.Flags.Adjust)
        {
            carry = oldCarry || (subtract ? al < 6 : al > 0xF9);
            al = (byte)(subtract ? al - 6 : al + 6);
            adjust = true;
        }
        if (oldAl > 0x99 || oldCarry)
        {
            al = (byte)(subtract ? al - 0x60 : al + 0x60);
            carry = true;
        }
        RegisterFile.Write(_gpr, Register.AL, al);
        StoreAdjustedFlags(al, carry, adjust);
    }

    /// <summary>AAA/AAS: the low digit of AL unpacked, a carry into AH (SDM vol 2 "AAA", "AAS").</summary>
    private void AsciiAdjust(bool subtract)
    {
        ulong ax = _gpr[CpuState.Rax] & 0xFFFF;
        bool adjust = (ax & 0xF) > 9 || _cpu.Flags.Adjust;
        if (adjust && subtract)
        {
            ax = (ax - 6) & 0xFFFF;   // a borrow out of AL reaches AH, and AH loses one more
            ax = (ax & 0xFF) | ((((ax >> 8) - 1) & 0xFF) << 8);
        }
        else if (adjust) ax = (ax + 0x106) & 0xFFFF;
        ax &= 0xFF0F;
        _gpr[CpuState.Rax] = (_gpr[CpuState.Rax] & ~0xFFFFUL) | ax;
        ulong bits = _cpu.Flags.ToBits() & ~(LazyFlags.CF | LazyFlags.AF);
        _cpu.Flags.Store(bits | (adjust ? LazyFlags.CF | LazyFlags.AF : 0));
    }

    /// <summary>AAM base: AH = AL / base, AL = AL mod base; base 0 is #DE.</summary>
    private void AsciiAdjustMultiply(byte numberBase)
    {
        if (numberBase == 0) throw new CpuException(ExceptionVector.DivideError);
        byte al = (byte)_gpr[CpuState.Rax];
        byte low = (byte)(al % numberBase);
        _gpr[CpuState.Rax] = (_gpr[CpuState.Rax] & ~0xFFFFUL) | ((ulong)(al / numberBase) << 8) | low;
        StoreAdjustedFlags(low, carry: false, adjust: false);
    }

    /// <summary>AAD base: AL = AH × base + AL, AH = 0.</summary>
    private void AsciiAdjustDivide(byte numberBase)
    {
        ulong ax = _gpr[CpuState.Rax];
        byte al = (byte)((byte)ax + (byte)(ax >> 8) * numberBase);
        _gpr[CpuState.Rax] = (ax & ~0xFFFFUL) | al;
        StoreAdjustedFlags(al, carry: false, adjust: false);
    }

    private void StoreAdjustedFlags(byte result, bool carry, bool adjust)
    {
        ulong bits = (carry ? LazyFlags.CF : 0) | (adjust ? LazyFlags.AF : 0)
                   | (result == 0 ? LazyFlags.ZF : 0) | ((result & 0x80) != 0 ? LazyFlags.SF : 0)
                   | ((BitOperations.PopCount(result) & 1) == 0 ? LazyFlags.PF : 0);
        _cpu.Flags.Store(bits);
    }
}
