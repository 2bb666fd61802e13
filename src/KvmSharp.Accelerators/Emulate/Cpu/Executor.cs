using System.Runtime.CompilerServices;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>What executing one instruction asks of the run loop.</summary>
public enum StepResult : byte
{
    Continue,
    /// <summary>HLT: wait for an interrupt.</summary>
    Halt,
    /// <summary>The instruction needs the VMM (port I/O): see <see cref="Executor.PendingIo"/>.</summary>
    PortIo,
    /// <summary>The instruction may have changed the mode or paging: decoded blocks are no longer valid.</summary>
    EndBlock,
}

/// <summary>A port access waiting for the VMM. For IN the instruction completes when the data comes back.</summary>
public struct PendingPortIo
{
    public ushort Port;
    public byte Size;
    public bool IsWrite;
    public ulong Data;
    /// <summary>IN: the register that receives the data. INS: Register.None (data goes to ES:rDI).</summary>
    public Register Destination;
    /// <summary>String I/O: the element is done; update rSI/rDI/rCX when the exit completes.</summary>
    public bool IsString;
    public ulong NextRip;
    public ulong RepeatRip;
}

/// <summary>
/// Executes one decoded instruction against <see cref="CpuState"/> and <see cref="Mmu"/>: the one place that
/// says what each instruction does. Split by instruction group into partial files (Executor.*.cs).
/// Faults are thrown as <see cref="CpuException"/> before the instruction changes any state it would
/// otherwise keep (the run loop restarts it after the handler).
/// </summary>
public sealed partial class Executor
{
    private readonly CpuState _cpu;
    private readonly Mmu _mmu;
    private readonly ulong[] _gpr;
    private ulong _nextRip;

    public Executor(CpuState cpu, Mmu mmu, ICpuPlatform platform)
    {
        _cpu = cpu;
        _mmu = mmu;
        _gpr = cpu.Gpr;
        Platform = platform;
    }

    public ICpuPlatform Platform { get; }

    public PendingPortIo PendingIo;

    /// <summary>Instructions Iced decodes but this CPU does not implement: counted by mnemonic, reported once each.</summary>
    public UnimplementedInstructions Unimplemented { get; } = new();

    public StepResult Step(in Instruction i)
    {
        _nextRip = i.NextIP;
        var result = IsLocked(in i) ? ExecuteLocked(in i) : Execute(in i);
        if (result != StepResult.PortIo) _cpu.Rip = _nextRip;
        return result;
    }

    /// <summary>A LOCK prefix, or XCHG with memory, which locks without one (SDM "XCHG").</summary>
    private static bool IsLocked(in Instruction i) =>
        i.HasLockPrefix || (i.Mnemonic == Mnemonic.Xchg && (i.Op0Kind == OpKind.Memory || i.Op1Kind == OpKind.Memory));

    /// <summary>A locked read-modify-write: atomic against the other vCPUs (Mmu.Locked.cs).</summary>
    private StepResult ExecuteLocked(in Instruction i)
    {
        lock (_mmu.Physical.LockedInstructions)
        {
            _mmu.InLockedInstruction = true;
            try
            {
                return Execute(in i);
            }
            finally
            {
                _mmu.InLockedInstruction = false;
            }
        }
    }

    // ---- operand access -------------------------------------------------------------------------

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Mask(int size) => size == 8 ? ulong.MaxValue : (1UL << (size * 8)) - 1;

    public static ulong SignExtend(ulong value, int size) => size switch
    {
        1 => (ulong)(long)(sbyte)value,
        2 => (ulong)(long)(short)value,
        4 => (ulong)(long)(int)value,
        _ => value,
    };

    /// <summary>Size in bytes of operand <paramref name="op"/> (a register or memory operand).</summary>
    private static int OperandSize(in Instruction i, int op)
    {
        var kind = i.GetOpKind(op);
        if (kind == OpKind.Register) return i.GetOpRegister(op).GetSize();
        if (kind == OpKind.Memory) return i.MemorySize.GetSize();
        return 0;
    }

    /// <summary>The offset part of the memory operand (SDM vol 1 §3.7.5), wrapped to the address size.</summary>
    private ulong EffectiveAddress(in Instruction i)
    {
        if (i.IsIPRelativeMemoryOperand) return i.IPRelativeMemoryAddress;
        ulong address = i.MemoryDisplacement64;
        var baseRegister = i.MemoryBase;
        if (baseRegister != Register.None) address += RegisterFile.Read(_gpr, baseRegister);
        var index = i.MemoryIndex;
        if (index != Register.None) address += RegisterFile.Read(_gpr, index) * (ulong)i.MemoryIndexScale;
        int addressSize = baseRegister != Register.None ? baseRegister.GetSize()
            : index != Register.None ? index.GetSize() : i.MemoryDisplSize;
        return addressSize switch { 2 => address & 0xFFFF, 4 => address & 0xFFFF_FFFF, _ => address };
    }

    private ulong SegmentBase(Register segment) => segment switch
    {
        Register.FS => _cpu.Segments[CpuState.Fs].Base,
        Register.GS => _cpu.Segments[CpuState.Gs].Base,
        _ when _cpu.Is64BitCode => 0,
        Register.ES => _cpu.Segments[CpuState.Es].Base,
        Register.CS => _cpu.Segments[CpuState.Cs].Base,
        Register.SS => _cpu.Segments[CpuState.Ss].Base,
        _ => _cpu.Segments[CpuState.Ds].Base,
    };

    private ulong Linear(Register segment, ulong offset)
    {
        return (SegmentBase(segment) + offset) & _cpu.LinearMask;
    }

    private ulong MemoryLinear(in Instruction i) => Linear(i.MemorySegment, EffectiveAddress(in i));

    private ulong ReadOperand(in Instruction i, int op, int size)
    {
        switch (i.GetOpKind(op))
        {
            case OpKind.Register: return RegisterFile.Read(_gpr, i.GetOpRegister(op));
            case OpKind.Memory: return _mmu.Read(MemoryLinear(in i), size);
            default: return i.GetImmediate(op) & Mask(size);
        }
    }

    private void WriteOperand(in Instruction i, int op, int size, ulong value)
    {
        if (i.GetOpKind(op) == OpKind.Register) RegisterFile.Write(_gpr, i.GetOpRegister(op), value);
        else _mmu.Write(MemoryLinear(in i), size, value & Mask(size));
    }

    // ---- stack ----------------------------------------------------------------------------------

    /// <summary>Stack address size: 8 in 64-bit mode, else SS.B (SDM vol 1 §6.2.3); kept by <see cref="CpuState"/>.</summary>
    private int StackAddressSize => _cpu.StackSize;

    private ulong StackPointer
    {
        get => _gpr[CpuState.Rsp] & Mask(StackAddressSize);
        set
        {
            int size = StackAddressSize;
            _gpr[CpuState.Rsp] = size == 8 ? value : (_gpr[CpuState.Rsp] & ~Mask(size)) | (value & Mask(size));
        }
    }

    public void Push(ulong value, int size)
    {
        ulong sp = (StackPointer - (ulong)size) & Mask(StackAddressSize);
        _mmu.Write(Linear(Register.SS, sp), size, value);
        StackPointer = sp;
    }

    public ulong Pop(int size)
    {
        ulong sp = StackPointer;
        ulong value = _mmu.Read(Linear(Register.SS, sp), size);
        StackPointer = sp + (ulong)size;
        return value;
    }

    // ---- conditions -----------------------------------------------------------------------------

    /// <summary>The condition of Jcc/SETcc/CMOVcc (SDM vol 1 Appendix B).</summary>
    private bool Condition(ConditionCode condition) => condition switch
    {
        ConditionCode.o => _cpu.Flags.Overflow,
        ConditionCode.no => !_cpu.Flags.Overflow,
        ConditionCode.b => _cpu.Flags.Carry,
        ConditionCode.ae => !_cpu.Flags.Carry,
        ConditionCode.e => _cpu.Flags.Zero,
        ConditionCode.ne => !_cpu.Flags.Zero,
        ConditionCode.be => _cpu.Flags.Carry || _cpu.Flags.Zero,
        ConditionCode.a => !_cpu.Flags.Carry && !_cpu.Flags.Zero,
        ConditionCode.s => _cpu.Flags.Sign,
        ConditionCode.ns => !_cpu.Flags.Sign,
        ConditionCode.p => _cpu.Flags.Parity,
        ConditionCode.np => !_cpu.Flags.Parity,
        ConditionCode.l => _cpu.Flags.Sign != _cpu.Flags.Overflow,
        ConditionCode.ge => _cpu.Flags.Sign == _cpu.Flags.Overflow,
        ConditionCode.le => _cpu.Flags.Zero || _cpu.Flags.Sign != _cpu.Flags.Overflow,
        ConditionCode.g => !_cpu.Flags.Zero && _cpu.Flags.Sign == _cpu.Flags.Overflow,
        _ => true,
    };

    /// <summary>Sets CF (and keeps the other five flags as they are now).</summary>
    private void SetCarry(bool carry)
    {
        ulong bits = _cpu.Flags.ToBits();
        _cpu.Flags.Store(carry ? bits | LazyFlags.CF : bits & ~LazyFlags.CF);
    }
}

/// <summary>What the CPU needs from the machine around it besides memory: time, CPUID, MSRs it does not own.</summary>
public interface ICpuPlatform
{
    /// <summary>The TSC now (advances with host time or, in deterministic mode, with instructions).</summary>
    ulong ReadTsc();

    /// <summary>CPUID leaf/subleaf for this vCPU.</summary>
    (uint Eax, uint Ebx, uint Ecx, uint Edx) Cpuid(uint leaf, uint subleaf);

    /// <summary>An MSR the platform owns (the TSC deadline, kvmclock); false: the CPU's own rules apply.</summary>
    bool TryReadMsr(uint index, out ulong value)
    {
        value = 0;
        return false;
    }

    bool TryWriteMsr(uint index, ulong value) => false;
}
