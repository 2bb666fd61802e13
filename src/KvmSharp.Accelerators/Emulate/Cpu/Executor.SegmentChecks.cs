using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// VERR, VERW, LAR, LSL: questions about a selector answered in ZF, never a fault for a bad selector
// (SDM vol 2 "VERR/VERW", "LAR", "LSL"). Linux runs VERW on every return to user mode (MDS buffer
// clearing) and the vDSO's getcpu may use LSL.
public sealed partial class Executor
{
    private void SegmentCheck(in Instruction i)
    {
        if (!_cpu.ProtectedMode || (_cpu.SystemFlags & CpuState.FlagVm86) != 0) throw CpuException.InvalidOpcode();
        var mnemonic = i.Mnemonic;
        int sourceSize = mnemonic is Mnemonic.Verr or Mnemonic.Verw ? 2 : Math.Min(OperandSize(in i, 1), 2);
        ushort selector = (ushort)ReadOperand(in i, mnemonic is Mnemonic.Verr or Mnemonic.Verw ? 0 : 1, sourceSize);
        ulong raw = TryReadRawDescriptor(selector, out bool found);
        bool valid = found && Accessible(mnemonic, selector, raw);
        ulong flags = _cpu.Flags.ToBits() & ~LazyFlags.ZF;
        _cpu.Flags.Store(valid ? flags | LazyFlags.ZF : flags);
        if (!valid || mnemonic is Mnemonic.Verr or Mnemonic.Verw) return;
        int size = OperandSize(in i, 0);
        ulong value = mnemonic == Mnemonic.Lar
            ? (raw >> 32) & 0x00F0_FF00   // type, S, DPL, P, AVL, L, D/B, G (SDM "LAR")
            : Limit(raw);
        WriteOperand(in i, 0, size, value);
    }

    private bool Accessible(Mnemonic mnemonic, ushort selector, ulong raw)
    {
        bool system = ((raw >> 44) & 1) == 0;
        int type = (int)((raw >> 40) & 0xF);
        int dpl = (int)((raw >> 45) & 3);
        bool conformingCode = !system && (type & 0xC) == 0xC;
        // Privilege: DPL ≥ CPL and RPL, except for conforming code segments.
        if (!conformingCode && (dpl < _cpu.Cpl || dpl < (selector & 3))) return false;
        switch (mnemonic)
        {
            case Mnemonic.Verr: return !system && ((type & 8) == 0 || (type & 2) != 0);   // data, or readable code
            case Mnemonic.Verw: return !system && (type & 8) == 0 && (type & 2) != 0;     // writable data
        }
        if (!system) return true;
        bool longMode = _cpu.LongModeActive;
        // System types that have a limit (LSL) or access rights (LAR) to report; long mode allows fewer.
        return type switch
        {
            2 or 9 or 11 => true,                               // LDT, 64/32-bit TSS (available, busy)
            1 or 3 => !longMode,                                 // 16-bit TSS
            12 => mnemonic == Mnemonic.Lar,                      // call gate
            4 or 5 => mnemonic == Mnemonic.Lar && !longMode,     // 16-bit call gate, task gate
            _ => false,
        };
    }

    /// <summary>The 8 descriptor bytes a selector names; found is false for a null selector or one past its table's limit.</summary>
    private ulong TryReadRawDescriptor(ushort selector, out bool found)
    {
        found = false;
        if ((selector & ~3) == 0) return 0;
        bool local = (selector & 4) != 0;
        ulong tableBase = local ? _cpu.Ldt.Base : _cpu.Gdt.Base;
        ulong limit = local ? _cpu.Ldt.Limit : _cpu.Gdt.Limit;
        if (local && _cpu.Ldt.Unusable != 0) return 0;
        ulong offset = (ulong)(selector & ~7);
        if (offset + 7 > limit) return 0;
        found = true;
        return ReadSystem(tableBase + offset, 8);
    }

    private static ulong Limit(ulong raw)
    {
        ulong limit = (raw & 0xFFFF) | ((raw >> 32) & 0xF_0000);
        return ((raw >> 55) & 1) != 0 ? (limit << 12) | 0xFFF : limit;
    }
}
