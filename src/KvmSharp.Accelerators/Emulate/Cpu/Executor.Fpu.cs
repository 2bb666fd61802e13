using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The x87 control and status words and the FXSAVE/FXRSTOR image (SDM vol 1 §8.1, vol 2 "FXSAVE"):
// what kernels and C runtimes touch at start-up. The x87 data registers and arithmetic are not
// implemented (FPU is not advertised in CPUID); FXSAVE stores them as zero.
public sealed partial class Executor
{
    private const int FxsaveSize = 512;

    private bool TryExecuteFpu(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Fninit:
                RequireFpu();
                (_cpu.FpuControl, _cpu.FpuStatus, _cpu.FpuTag) = (0x37F, 0, 0xFFFF);
                return true;
            case Mnemonic.Fnclex: RequireFpu(); _cpu.FpuStatus &= 0x7F00; return true;
            case Mnemonic.Wait: return true;
            case Mnemonic.Fnstcw: RequireFpu(); _mmu.Write(MemoryLinear(in i), 2, _cpu.FpuControl); return true;
            case Mnemonic.Fldcw: RequireFpu(); _cpu.FpuControl = (ushort)_mmu.Read(MemoryLinear(in i), 2); return true;
            case Mnemonic.Fnstsw:
                RequireFpu();
                if (i.Op0Kind == OpKind.Register) RegisterFile.Write(_gpr, Register.AX, _cpu.FpuStatus);
                else _mmu.Write(MemoryLinear(in i), 2, _cpu.FpuStatus);
                return true;
            case Mnemonic.Fxsave: case Mnemonic.Fxsave64: FxSave(in i); return true;
            case Mnemonic.Fxrstor: case Mnemonic.Fxrstor64: FxRestore(in i); return true;
            default: return false;
        }
    }

    /// <summary>x87 instructions fault with #NM when CR0.EM or CR0.TS is set (SDM vol 3 §2.5).</summary>
    private void RequireFpu()
    {
        if ((_cpu.Cr0 & (4 | 8)) != 0) throw new CpuException(ExceptionVector.DeviceNotAvailable);
    }

    private ulong FxArea(in Instruction i)
    {
        if ((_cpu.Cr0 & (4 | 8)) != 0) throw new CpuException(ExceptionVector.DeviceNotAvailable);
        ulong address = MemoryLinear(in i);
        if ((address & 15) != 0) throw CpuException.GeneralProtection();
        _mmu.Translate(address, AccessKind.Write);
        _mmu.Translate(address + FxsaveSize - 1, AccessKind.Write);
        return address;
    }

    private void FxSave(in Instruction i)
    {
        ulong area = FxArea(in i);
        // Abridged tag word: one bit per register, 1 = not empty (SDM vol 1 §10.5.1.1).
        ulong abridgedTag = 0;
        for (int n = 0; n < 8; n++) if ((_cpu.FpuTag >> (2 * n) & 3) != 3) abridgedTag |= 1UL << n;
        _mmu.Write(area, 8, _cpu.FpuControl | ((ulong)_cpu.FpuStatus << 16) | (abridgedTag << 32));
        _mmu.Write(area + 8, 8, 0);                                    // FIP
        _mmu.Write(area + 16, 8, 0);                                   // FDP
        _mmu.Write(area + 24, 8, _cpu.Mxcsr | (0xFFFFUL << 32));       // MXCSR, MXCSR_MASK
        // ST0–ST7 (MM0–MM7): 10 bytes each in a 16-byte slot; bytes 10–15 are reserved and left as they were
        // (SDM vol 2 "FXSAVE", Table 3-43; Unicorn and hardware do not write them either).
        for (ulong offset = 32; offset < 160; offset += 16)
        {
            _mmu.Write(area + offset, 8, 0);
            _mmu.Write(area + offset + 8, 2, 0);
        }
        bool wide = _cpu.Is64BitCode;
        for (int n = 0; n < 16; n++)
        {
            ulong slot = area + 160 + (ulong)n * 16;
            bool present = wide || n < 8;
            _mmu.Write(slot, 8, present ? _cpu.Xmm[2 * n] : 0);
            _mmu.Write(slot + 8, 8, present ? _cpu.Xmm[2 * n + 1] : 0);
        }
    }

    private void FxRestore(in Instruction i)
    {
        ulong area = FxArea(in i);
        ulong mxcsr = _mmu.Read(area + 24, 4);
        if ((mxcsr & ~0xFFFFUL) != 0) throw CpuException.GeneralProtection();   // reserved MXCSR bits (SDM "FXRSTOR")
        ulong head = _mmu.Read(area, 8);
        _cpu.FpuControl = (ushort)head;
        _cpu.FpuStatus = (ushort)(head >> 16);
        // The abridged tag byte expands to the full tag word: 0 = empty (11b), 1 = in use (SDM vol 1 §10.5.1.1;
        // the registers hold zeros here, so "valid" 00b).
        ushort tag = 0;
        for (int n = 0; n < 8; n++) if ((head >> (32 + n) & 1) == 0) tag |= (ushort)(3 << (2 * n));
        _cpu.FpuTag = tag;
        _cpu.Mxcsr = (uint)mxcsr;
        int count = _cpu.Is64BitCode ? 16 : 8;
        for (int n = 0; n < count; n++)
        {
            ulong slot = area + 160 + (ulong)n * 16;
            _cpu.Xmm[2 * n] = _mmu.Read(slot, 8);
            _cpu.Xmm[2 * n + 1] = _mmu.Read(slot + 8, 8);
        }
    }
}
