using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu.X87;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// The x87 environment and state images: FSTENV/FLDENV (14 or 28 bytes) and FSAVE/FRSTOR (94 or 108 bytes), in
// the protected-mode and real-mode layouts of SDM vol 1 §8.1.10, Figures 8-9 to 8-12. 64-bit mode uses the
// 32-bit layout.
public sealed partial class Executor
{
    /// <summary>The full tag word: 00 valid, 01 zero, 10 special (NaN, ∞, denormal, unsupported), 11 empty (SDM vol 1 §8.1.7).</summary>
    private ushort FullTagWord()
    {
        int tag = 0;
        for (int n = 0; n < 8; n++)
        {
            int kind = (_cpu.FpuTag >> (2 * n) & 3) == 3 ? 3 : _cpu.Fpr[n].Classify() switch
            {
                Float80Class.Normal => 0,
                Float80Class.Zero => 1,
                _ => 2,
            };
            tag |= kind << (2 * n);
        }
        return (ushort)tag;
    }

    private bool X87RealModeLayout => !_cpu.ProtectedMode || (_cpu.SystemFlags & CpuState.FlagVm86) != 0;

    private static bool WideEnvironment(in Instruction i) => i.MemorySize is MemorySize.FpuEnv28 or MemorySize.FpuState108;

    /// <summary>Writes the environment at <paramref name="address"/>; returns its size.</summary>
    private int StoreX87Environment(ulong address, bool wide)
    {
        int size = wide ? 28 : 14, unit = wide ? 4 : 2;
        _mmu.Translate(address, AccessKind.Write);
        _mmu.Translate(address + (ulong)size - 1, AccessKind.Write);
        Span<ulong> words = stackalloc ulong[7];
        words[0] = _cpu.FpuControl;
        words[1] = _cpu.FpuStatus;
        words[2] = FullTagWord();
        if (X87RealModeLayout)
        {
            // Real mode: 20-bit (32-bit layout: 32-bit) linear pointers, FOP beside the high half of FIP.
            ulong ip = ((ulong)_cpu.FpuLastCs << 4) + _cpu.FpuLastIp, dp = ((ulong)_cpu.FpuLastDs << 4) + _cpu.FpuLastDp;
            words[3] = ip & 0xFFFF;
            words[4] = ((ip >> 16) & (wide ? 0xFFFFUL : 0xF)) << 12 | (_cpu.FpuOpcode & 0x7FFUL);
            words[5] = dp & 0xFFFF;
            words[6] = ((dp >> 16) & (wide ? 0xFFFFUL : 0xF)) << 12;
        }
        else
        {
            words[3] = _cpu.FpuLastIp & Mask(unit);
            words[4] = _cpu.FpuLastCs | (wide ? (ulong)(_cpu.FpuOpcode & 0x7FF) << 16 : 0);
            words[5] = _cpu.FpuLastDp & Mask(unit);
            words[6] = _cpu.FpuLastDs;
        }
        // The 32-bit layout's reserved upper halves of FCW, FSW, FTW and FDS read as ones, as hardware stores them
        // (measured; Linux's initial FSAVE image, fpstate_init_fstate, has the same 0xFFFF halves).
        if (wide)
        {
            for (int n = 0; n < 3; n++) words[n] |= 0xFFFF_0000;
            if (!X87RealModeLayout) words[6] |= 0xFFFF_0000;
        }
        for (int n = 0; n < 7; n++) _mmu.Write(address + (ulong)(n * unit), unit, words[n]);
        return size;
    }

    private int LoadX87Environment(ulong address, bool wide)
    {
        int size = wide ? 28 : 14, unit = wide ? 4 : 2;
        Span<ulong> words = stackalloc ulong[7];
        for (int n = 0; n < 7; n++) words[n] = _mmu.Read(address + (ulong)(n * unit), unit);
        _cpu.FpuControl = (ushort)words[0];
        _cpu.FpuStatus = (ushort)words[1];
        // Only "empty" survives a tag word load: the FPU reclassifies the registers (SDM vol 2 "FLDENV").
        ushort tag = 0;
        for (int n = 0; n < 8; n++) if ((words[2] >> (2 * n) & 3) == 3) tag |= (ushort)(3 << (2 * n));
        _cpu.FpuTag = tag;
        if (X87RealModeLayout)
        {
            _cpu.FpuLastIp = (words[3] & 0xFFFF) | (words[4] >> 12 << 16);
            _cpu.FpuOpcode = (ushort)(words[4] & 0x7FF);
            _cpu.FpuLastDp = (words[5] & 0xFFFF) | (words[6] >> 12 << 16);
            (_cpu.FpuLastCs, _cpu.FpuLastDs) = (0, 0);
        }
        else
        {
            _cpu.FpuLastIp = words[3];
            _cpu.FpuLastCs = (ushort)words[4];
            _cpu.FpuOpcode = wide ? (ushort)(words[4] >> 16 & 0x7FF) : (ushort)0;
            _cpu.FpuLastDp = words[5];
            _cpu.FpuLastDs = (ushort)words[6];
        }
        UpdateErrorSummary();
        return size;
    }

    /// <summary>ES and B follow the flags unmasked by the control word (SDM vol 1 §8.1.3.4).</summary>
    private void UpdateErrorSummary()
    {
        bool pending = (_cpu.FpuStatus & ~_cpu.FpuControl & 0x3F) != 0;
        _cpu.FpuStatus = (ushort)(pending ? _cpu.FpuStatus | FswErrorSummary | FswBusy : _cpu.FpuStatus & ~(FswErrorSummary | FswBusy));
    }

    private void X87StoreEnvironment(in Instruction i)
    {
        StoreX87Environment(MemoryLinear(in i), WideEnvironment(in i));
        _cpu.FpuControl |= 0x3F;   // FSTENV masks every exception after storing (SDM vol 2 "FSTENV")
    }

    /// <summary>FSAVE: the environment, ST(0)–ST(7) at 10 bytes each, then FNINIT.</summary>
    private void X87Save(in Instruction i)
    {
        ulong address = MemoryLinear(in i);
        bool wide = WideEnvironment(in i);
        _mmu.Translate(address + (wide ? 107UL : 93UL), AccessKind.Write);
        ulong registers = address + (ulong)StoreX87Environment(address, wide);
        for (int st = 0; st < 8; st++) WriteFloat80(registers + (ulong)(st * 10), St(st));
        X87Initialize();
    }

    private void X87Restore(in Instruction i)
    {
        ulong address = MemoryLinear(in i);
        bool wide = WideEnvironment(in i);
        Span<ulong> significands = stackalloc ulong[8];
        Span<ushort> exponents = stackalloc ushort[8];
        ulong registers = address + (wide ? 28UL : 14UL);
        // Everything is read before anything changes, so a fault leaves the FPU as it was.
        for (int st = 0; st < 8; st++)
        {
            significands[st] = _mmu.Read(registers + (ulong)(st * 10), 8);
            exponents[st] = (ushort)_mmu.Read(registers + (ulong)(st * 10) + 8, 2);
        }
        LoadX87Environment(address, wide);
        for (int st = 0; st < 8; st++) _cpu.Fpr[Physical(st)] = new Float80(significands[st], exponents[st]);
    }

    /// <summary>FNINIT (SDM vol 2 "FINIT"): default control word, clear status, all registers empty, pointers zero.</summary>
    private void X87Initialize()
    {
        (_cpu.FpuControl, _cpu.FpuStatus, _cpu.FpuTag) = (0x37F, 0, 0xFFFF);
        (_cpu.FpuLastIp, _cpu.FpuLastDp, _cpu.FpuLastCs, _cpu.FpuLastDs, _cpu.FpuOpcode) = (0, 0, 0, 0, 0);
    }
}
