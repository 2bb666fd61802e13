using Iced.Intel;
using KvmSharp.Native.X86;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// System instructions (SDM vol 3 chapters 2–6): control registers, descriptor tables, MSRs, CPUID,
// software interrupts, and the string instructions that share the default dispatch.
public sealed partial class Executor
{
    /// <summary>
    /// Set by STI, MOV SS and POP SS: interrupts are held off until after the next instruction (SDM vol 2
    /// "STI", "MOV"). Each of them ends its block, and the run loop takes the shadow right there.
    /// </summary>
    private bool _interruptShadow;

    public bool TakeInterruptShadow()
    {
        bool shadow = _interruptShadow;
        _interruptShadow = false;
        return shadow;
    }

    private void RequirePrivilege()
    {
        if (_cpu.Cpl != 0) throw CpuException.GeneralProtection();
    }

    private StepResult ExecuteSystemOrString(in Instruction i)
    {
        switch (i.Mnemonic)
        {
            case Mnemonic.Movsb: case Mnemonic.Movsw: case Mnemonic.Movsq:
            case Mnemonic.Stosb: case Mnemonic.Stosw: case Mnemonic.Stosd: case Mnemonic.Stosq:
            case Mnemonic.Lodsb: case Mnemonic.Lodsw: case Mnemonic.Lodsd: case Mnemonic.Lodsq:
            case Mnemonic.Cmpsb: case Mnemonic.Cmpsw: case Mnemonic.Cmpsq:
            case Mnemonic.Scasb: case Mnemonic.Scasw: case Mnemonic.Scasd: case Mnemonic.Scasq:
                return StringInstruction(in i);
            // MOVSD and CMPSD name both a string instruction and an SSE2 one: the string forms have rDI/rSI operands.
            case Mnemonic.Movsd when i.Op0Kind is OpKind.MemoryESDI or OpKind.MemoryESEDI or OpKind.MemoryESRDI:
            case Mnemonic.Cmpsd when i.Op0Kind is OpKind.MemorySegSI or OpKind.MemorySegESI or OpKind.MemorySegRSI:
                return StringInstruction(in i);
            case Mnemonic.Insb: case Mnemonic.Insw: case Mnemonic.Insd: return StringPortIo(in i, output: false);
            case Mnemonic.Outsb: case Mnemonic.Outsw: case Mnemonic.Outsd: return StringPortIo(in i, output: true);

            case Mnemonic.Int: throw new SoftwareInterrupt((byte)i.Immediate8, i.NextIP);
            case Mnemonic.Int3: throw new SoftwareInterrupt(ExceptionVector.Breakpoint, i.NextIP);
            case Mnemonic.Into: if (_cpu.Flags.Overflow) throw new SoftwareInterrupt(ExceptionVector.Overflow, i.NextIP); break;
            case Mnemonic.Ud2: case Mnemonic.Ud0: case Mnemonic.Ud1: throw CpuException.InvalidOpcode();
            case Mnemonic.Iret: case Mnemonic.Iretd: case Mnemonic.Iretq: InterruptReturn(OperandSizeOf(in i)); return StepResult.EndBlock;
            case Mnemonic.Retf: FarReturn(in i); return StepResult.EndBlock;

            case Mnemonic.Lgdt: case Mnemonic.Lidt: LoadDescriptorTable(in i); break;
            case Mnemonic.Sgdt: case Mnemonic.Sidt: StoreDescriptorTable(in i); break;
            case Mnemonic.Lldt: RequirePrivilege(); LoadSystemSegment(ref _cpu.Ldt, (ushort)ReadOperand(in i, 0, 2)); break;
            case Mnemonic.Ltr: RequirePrivilege(); LoadSystemSegment(ref _cpu.Tr, (ushort)ReadOperand(in i, 0, 2)); break;
            case Mnemonic.Sldt: WriteOperand(in i, 0, OperandSize(in i, 0), _cpu.Ldt.Selector); break;
            case Mnemonic.Str: WriteOperand(in i, 0, OperandSize(in i, 0), _cpu.Tr.Selector); break;
            case Mnemonic.Smsw: WriteOperand(in i, 0, OperandSize(in i, 0), _cpu.Cr0 & Mask(OperandSize(in i, 0))); break;
            case Mnemonic.Lmsw:
                RequirePrivilege();
                // LMSW sets PE but cannot clear it, and touches only MP, EM, TS (SDM "LMSW").
                SetCr0((_cpu.Cr0 & ~0xEUL) | (ReadOperand(in i, 0, 2) & 0xF) | (_cpu.Cr0 & 1));
                return StepResult.EndBlock;
            case Mnemonic.Verr: case Mnemonic.Verw: case Mnemonic.Lar: case Mnemonic.Lsl: SegmentCheck(in i); break;
            case Mnemonic.Clts: RequirePrivilege(); _cpu.Cr0 &= ~8UL; break;
            case Mnemonic.Invlpg: RequirePrivilege(); _mmu.FlushPage(MemoryLinear(in i)); return StepResult.EndBlock;
            case Mnemonic.Rdmsr: RequirePrivilege(); ReadMsr(); break;
            case Mnemonic.Wrmsr: RequirePrivilege(); WriteMsr(); return StepResult.EndBlock;
            case Mnemonic.Swapgs:
                if (!_cpu.Is64BitCode) throw CpuException.InvalidOpcode();
                RequirePrivilege();
            {
                ulong gsBase = _cpu.Segments[CpuState.Gs].Base;
                _cpu.Segments.SetBase(CpuState.Gs, _cpu.KernelGsBase);
                _cpu.KernelGsBase = gsBase;
                break;
            }
            case Mnemonic.Syscall: Syscall(in i); return StepResult.EndBlock;
            case Mnemonic.Sysret: case Mnemonic.Sysretq: Sysret(in i); return StepResult.EndBlock;

            default:
                if (TryExecuteLegacy(in i, out var legacy)) return legacy;
                if (TryExecuteSse(in i) || TryExecuteFpu(in i)) break;
                Unimplemented.Record(in i);
                throw CpuException.InvalidOpcode();
        }
        return StepResult.Continue;
    }

    private void Cpuid()
    {
        var (a, b, c, d) = Platform.Cpuid((uint)_gpr[CpuState.Rax], (uint)_gpr[CpuState.Rcx]);
        _gpr[CpuState.Rax] = a;
        _gpr[CpuState.Rbx] = b;
        _gpr[CpuState.Rcx] = c;
        _gpr[CpuState.Rdx] = d;
    }

    private void Rdtsc()
    {
        ulong tsc = Platform.ReadTsc() + _cpu.Tsc;
        _gpr[CpuState.Rax] = tsc & 0xFFFF_FFFF;
        _gpr[CpuState.Rdx] = tsc >> 32;
    }

    private StepResult Popf(in Instruction i)
    {
        int size = OperandSizeOf(in i);
        ulong value = Pop(size);
        // Which bits POPF may change depends on CPL and IOPL (SDM vol 2 "POPF", table 4-16); VM and RF are never set by it.
        ulong changeable = 0x3F_7FD5 & ~(CpuState.FlagVm86 | CpuState.FlagResume | 0x18_0000UL);
        if (_cpu.ProtectedMode && _cpu.Cpl > 0) changeable &= ~CpuState.FlagIopl;
        if (_cpu.ProtectedMode && _cpu.Cpl > (int)((_cpu.SystemFlags & CpuState.FlagIopl) >> 12)) changeable &= ~CpuState.FlagInterrupt;
        if (size == 2) changeable &= 0xFFFF;
        _cpu.Rflags = (_cpu.Rflags & ~changeable) | (value & changeable);
        return StepResult.EndBlock;
    }

    private void MoveControlRegister(in Instruction i)
    {
        RequirePrivilege();
        bool toControl = i.Op0Kind == OpKind.Register && (i.Op0Register.IsCR() || i.Op0Register.IsDR());
        var controlRegister = toControl ? i.Op0Register : i.Op1Register;
        if (!toControl)
        {
            ulong value = controlRegister switch
            {
                Register.CR0 => _cpu.Cr0, Register.CR2 => _cpu.Cr2, Register.CR3 => _cpu.Cr3, Register.CR4 => _cpu.Cr4,
                Register.CR8 => _cpu.Cr8,
                _ when controlRegister.IsDR() => _debugRegisters[controlRegister - Register.DR0],
                _ => throw CpuException.InvalidOpcode(),
            };
            RegisterFile.Write(_gpr, i.Op0Register, value);
            return;
        }
        ulong newValue = RegisterFile.Read(_gpr, i.Op1Register);
        switch (controlRegister)
        {
            case Register.CR0: SetCr0(newValue); break;
            case Register.CR2: _cpu.Cr2 = newValue; break;
            case Register.CR3: _cpu.Cr3 = newValue; _mmu.FlushTlb(); break;
            case Register.CR4: _cpu.Cr4 = newValue; _mmu.FlushTlb(); break;
            case Register.CR8: _cpu.Cr8 = newValue & 0xF; break;
            default:
                if (!controlRegister.IsDR()) throw CpuException.InvalidOpcode();
                _debugRegisters[controlRegister - Register.DR0] = newValue;   // stored; breakpoints are not implemented
                break;
        }
    }

    private readonly ulong[] _debugRegisters = new ulong[8];

    /// <summary>DR0–DR7 as MOV DR stored them (saved and loaded with the rest of the CPU).</summary>
    public Span<ulong> DebugRegisters => _debugRegisters;

    /// <summary>CR0 writes; enabling paging with EFER.LME set activates long mode (SDM vol 3 §9.8.5).</summary>
    private void SetCr0(ulong value)
    {
        value |= 0x10;   // ET is hard-wired to 1
        bool pagingOn = (value & SpecialRegisters.Cr0Paging) != 0;
        if ((_cpu.Efer & SpecialRegisters.EferLongModeEnable) != 0)
            _cpu.Efer = pagingOn ? _cpu.Efer | SpecialRegisters.EferLongModeActive : _cpu.Efer & ~SpecialRegisters.EferLongModeActive;
        _cpu.Cr0 = value;
        _mmu.FlushTlb();
    }

    private void LoadDescriptorTable(in Instruction i)
    {
        RequirePrivilege();
        ulong address = MemoryLinear(in i);
        ushort limit = (ushort)_mmu.Read(address, 2);
        ulong baseAddress = _mmu.Read(address + 2, _cpu.Is64BitCode ? 8 : 4);
        // A 16-bit operand size loads a 24-bit base (SDM "LGDT/LIDT"): that is the operand size, not the code size, so
        // an o32 LGDT in real mode (OVMF's reset vector loads its GDT at 0xFFFFFxxx so) keeps all 32 bits.
        if (i.Code is Code.Lgdt_m1632_16 or Code.Lidt_m1632_16) baseAddress &= 0xFF_FFFF;
        var table = new DescriptorTable { Base = baseAddress, Limit = limit };
        if (i.Mnemonic == Mnemonic.Lgdt) _cpu.Gdt = table; else _cpu.Idt = table;
    }

    private void StoreDescriptorTable(in Instruction i)
    {
        var table = i.Mnemonic == Mnemonic.Sgdt ? _cpu.Gdt : _cpu.Idt;
        ulong address = MemoryLinear(in i);
        _mmu.Write(address, 2, table.Limit);
        _mmu.Write(address + 2, _cpu.Is64BitCode ? 8 : 4, table.Base);
    }

    private void LoadSystemSegment(ref Segment target, ushort selector)
    {
        if ((selector & ~3) == 0) { target = new Segment { Selector = selector, Unusable = 1 }; return; }
        if ((selector & 4) != 0) throw CpuException.GeneralProtection((uint)(selector & ~3));
        var descriptor = ReadDescriptor(selector);
        if (descriptor.Present == 0) throw new CpuException(ExceptionVector.SegmentNotPresent, (uint)(selector & ~3));
        target = descriptor;
    }
}

/// <summary>INT n, INT3, INTO: delivered like an exception but with the return address after the instruction.</summary>
public sealed class SoftwareInterrupt(byte vector, ulong returnRip) : Exception
{
    public byte Vector { get; } = vector;
    public ulong ReturnRip { get; } = returnRip;
}
