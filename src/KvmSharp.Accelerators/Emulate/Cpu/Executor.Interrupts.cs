using Iced.Intel;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Interrupt and exception delivery through the IVT/IDT, and IRET (SDM vol 3 §6.12 protected mode,
// §6.14 64-bit mode, §20.1.4 real mode).
public sealed partial class Executor
{
    /// <summary>
    /// Enters the handler for <paramref name="vector"/>. <paramref name="returnRip"/> is what the handler's
    /// IRET returns to (the faulting instruction for faults, the next one for traps and INT n).
    /// </summary>
    public void DeliverInterrupt(byte vector, ulong returnRip, uint? errorCode, bool software)
    {
        if (!_cpu.ProtectedMode) { DeliverRealMode(vector, returnRip); return; }
        try
        {
            if (_cpu.LongModeActive) DeliverLongMode(vector, returnRip, errorCode, software);
            else DeliverProtectedMode(vector, returnRip, errorCode, software);
        }
        finally
        {
            _mmu.ImplicitSupervisor = false;
        }
    }

    private void DeliverRealMode(byte vector, ulong returnRip)
    {
        ulong entry = _cpu.Idt.Base + vector * 4UL;
        ushort offset = (ushort)_mmu.Read(entry, 2), segment = (ushort)_mmu.Read(entry + 2, 2);
        Push(_cpu.Rflags & 0xFFFF, 2);
        Push(_cpu.Segments[CpuState.Cs].Selector, 2);
        Push(returnRip & 0xFFFF, 2);
        _cpu.SystemFlags &= ~(CpuState.FlagInterrupt | CpuState.FlagTrap | (1UL << 18));
        LoadCodeSegment(segment);
        _cpu.Rip = offset;
    }

    private (ulong Offset, ushort Selector, byte Type, byte Dpl, byte Ist) ReadGate(byte vector, bool software, int gateSize)
    {
        ulong offsetInTable = vector * (ulong)gateSize;
        if (offsetInTable + (ulong)gateSize - 1 > _cpu.Idt.Limit)
            throw CpuException.GeneralProtection(vector * 8u + 2);
        ulong low = ReadSystem(_cpu.Idt.Base + offsetInTable, 8);
        ulong offset = (low & 0xFFFF) | ((low >> 32) & 0xFFFF_0000);
        if (gateSize == 16) offset |= ReadSystem(_cpu.Idt.Base + offsetInTable + 8, 4) << 32;
        byte type = (byte)((low >> 40) & 0xF), dpl = (byte)((low >> 45) & 3);
        if (((low >> 47) & 1) == 0) throw new CpuException(ExceptionVector.SegmentNotPresent, vector * 8u + 2);
        if (software && dpl < _cpu.Cpl) throw CpuException.GeneralProtection(vector * 8u + 2);
        return (offset, (ushort)((low >> 16) & 0xFFFF), type, dpl, (byte)((low >> 32) & 7));
    }

    private void DeliverLongMode(byte vector, ulong returnRip, uint? errorCode, bool software)
    {
        var gate = ReadGate(vector, software, 16);
        var target = ReadDescriptor(gate.Selector);
        int oldCpl = _cpu.Cpl, newCpl = target.Dpl;
        ulong oldSs = _cpu.Segments[CpuState.Ss].Selector, oldRsp = _gpr[CpuState.Rsp], oldFlags = _cpu.Rflags;
        ulong oldCs = _cpu.Segments[CpuState.Cs].Selector;
        ulong rsp = oldRsp;
        if (gate.Ist != 0) rsp = ReadTss64(0x24 + (gate.Ist - 1) * 8);
        else if (newCpl < oldCpl) rsp = ReadTss64(4 + newCpl * 8);
        rsp &= ~0xFUL;   // the 64-bit frame is 16-byte aligned (SDM §6.14.2)
        // The frame goes on the handler's stack with the handler's privilege (SDM vol 3 §4.6.1).
        _mmu.ImplicitSupervisor = newCpl < 3;
        if (newCpl < oldCpl)
        {
            _cpu.Segments.Set(CpuState.Ss, new Segment { Selector = (ushort)newCpl, Unusable = 1, Dpl = (byte)newCpl });
        }
        _gpr[CpuState.Rsp] = rsp;
        Push(oldSs, 8);
        Push(oldRsp, 8);
        Push(oldFlags, 8);
        Push(oldCs, 8);
        Push(returnRip, 8);
        if (errorCode is { } code) Push(code, 8);
        target.Dpl = (byte)newCpl;
        target.Selector = (ushort)((gate.Selector & ~3) | newCpl);
        _cpu.Segments.Set(CpuState.Cs, target);
        ClearFlagsOnEntry(gate.Type);
        _cpu.Rip = gate.Offset;
    }

    private void DeliverProtectedMode(byte vector, ulong returnRip, uint? errorCode, bool software)
    {
        var gate = ReadGate(vector, software, 8);
        if (gate.Type == 5) throw CpuException.GeneralProtection(vector * 8u + 2);   // task gates are not supported
        int size = (gate.Type & 8) != 0 ? 4 : 2;
        var target = ReadDescriptor(gate.Selector);
        int oldCpl = _cpu.Cpl, newCpl = target.Dpl;
        ulong oldFlags = _cpu.Rflags, oldCs = _cpu.Segments[CpuState.Cs].Selector;
        _mmu.ImplicitSupervisor = newCpl < 3;   // the handler's stack, with its privilege (SDM vol 3 §4.6.1)
        if (newCpl < oldCpl)
        {
            // Stack switch from the 32-bit TSS (SDM §7.2.1: ESPn at 4 + 8n, SSn at 8 + 8n).
            ulong oldSs = _cpu.Segments[CpuState.Ss].Selector, oldEsp = _gpr[CpuState.Rsp] & 0xFFFF_FFFF;
            ulong newEsp = ReadSystem(_cpu.Tr.Base + 4 + (ulong)newCpl * 8, 4);
            ushort newSs = (ushort)ReadSystem(_cpu.Tr.Base + 8 + (ulong)newCpl * 8, 2);
            _cpu.Segments.Set(CpuState.Ss, ReadDescriptor(newSs));
            _gpr[CpuState.Rsp] = newEsp;
            Push(oldSs, size);
            Push(oldEsp, size);
        }
        Push(oldFlags, size);
        Push(oldCs, size);
        Push(returnRip, size);
        if (errorCode is { } code) Push(code, size);
        target.Dpl = (byte)newCpl;
        target.Selector = (ushort)((gate.Selector & ~3) | newCpl);
        _cpu.Segments.Set(CpuState.Cs, target);
        ClearFlagsOnEntry(gate.Type);
        _cpu.Rip = gate.Offset;
    }

    /// <summary>Interrupt gates clear IF; both gate kinds clear TF, NT, RF, VM (SDM §6.12.1.3).</summary>
    private void ClearFlagsOnEntry(byte gateType)
    {
        ulong clear = CpuState.FlagTrap | CpuState.FlagNested | CpuState.FlagResume | CpuState.FlagVm86;
        if ((gateType & 1) == 0) clear |= CpuState.FlagInterrupt;
        _cpu.SystemFlags &= ~clear;
    }

    private ulong ReadTss64(int offset)
    {
        if (_cpu.Tr.Unusable != 0 || _cpu.Tr.Present == 0) throw new CpuException(ExceptionVector.InvalidTss);
        return ReadSystem(_cpu.Tr.Base + (ulong)offset, 8);
    }

    private void InterruptReturn(int size)
    {
        _cpu.NmiBlocked = false;
        if (!_cpu.ProtectedMode)
        {
            ulong ip = Pop(size), cs = Pop(size), flags = Pop(size);
            LoadCodeSegment((ushort)cs);
            _cpu.Rflags = (_cpu.Rflags & ~Mask(size)) | (flags & Mask(size));
            _nextRip = ip;
            return;
        }
        int oldCpl = _cpu.Cpl;
        ulong rip = Pop(size), csSelector = Pop(size) & 0xFFFF, rflags = Pop(size);
        bool popStack = _cpu.Is64BitCode || ((int)csSelector & 3) > oldCpl;
        ulong rsp = 0, ssSelector = 0;
        if (popStack) { rsp = Pop(size); ssSelector = Pop(size) & 0xFFFF; }
        LoadCodeSegment((ushort)csSelector);
        ulong changeable = size == 2 ? 0xFFFF : 0x3F_7FD5UL;
        if (oldCpl > 0) changeable &= ~(CpuState.FlagIopl | CpuState.FlagVm86);
        _cpu.Rflags = (_cpu.Rflags & ~changeable) | (rflags & changeable);
        if (popStack)
        {
            if ((ssSelector & ~3UL) == 0 && _cpu.LongModeActive)
                _cpu.Segments.Set(CpuState.Ss, new Segment { Selector = (ushort)ssSelector, Unusable = 1, Dpl = (byte)(csSelector & 3) });
            else
                LoadSegment(Register.SS, (ushort)ssSelector);
            _gpr[CpuState.Rsp] = size == 8 ? rsp : rsp & 0xFFFF_FFFF;
        }
        _nextRip = rip;
    }

    private void FarReturn(in Instruction i)
    {
        int size = i.Code switch { Code.Retfw or Code.Retfw_imm16 => 2, Code.Retfd or Code.Retfd_imm16 => 4, _ => 8 };
        int oldCpl = _cpu.Cpl;
        ulong rip = Pop(size), cs = Pop(size) & 0xFFFF;
        if (i.OpCount > 0) StackPointer += i.Immediate16;
        if (_cpu.ProtectedMode && ((int)cs & 3) > oldCpl)
        {
            ulong rsp = Pop(size), ss = Pop(size) & 0xFFFF;
            LoadCodeSegment((ushort)cs);
            LoadSegment(Register.SS, (ushort)ss);
            _gpr[CpuState.Rsp] = rsp;
        }
        else
        {
            LoadCodeSegment((ushort)cs);
        }
        _nextRip = rip;
    }
}
