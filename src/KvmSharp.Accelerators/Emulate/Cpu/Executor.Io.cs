using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

// Port I/O (SDM vol 1 §19): IN/OUT leave the CPU through PendingIo; the vCPU completes IN when the VMM
// has supplied the data. String forms move one element per exit.
public sealed partial class Executor
{
    /// <summary>IN/OUT/INS/OUTS need CPL ≤ IOPL in protected mode (the TSS I/O bitmap is not consulted: no guest we run uses it).</summary>
    private void RequireIoPrivilege()
    {
        if (_cpu.ProtectedMode && _cpu.Cpl > (int)((_cpu.SystemFlags & CpuState.FlagIopl) >> 12))
            throw CpuException.GeneralProtection();
    }

    private ushort PortOperand(in Instruction i, int op) =>
        i.GetOpKind(op) == OpKind.Register ? (ushort)_gpr[CpuState.Rdx] : (ushort)i.GetImmediate(op);

    private StepResult PortIn(in Instruction i)
    {
        RequireIoPrivilege();
        PendingIo = new PendingPortIo
        {
            Port = PortOperand(in i, 1), Size = (byte)i.Op0Register.GetSize(), IsWrite = false,
            Destination = i.Op0Register, NextRip = i.NextIP,
        };
        return StepResult.PortIo;
    }

    private StepResult PortOut(in Instruction i)
    {
        RequireIoPrivilege();
        int size = i.Op1Register.GetSize();
        PendingIo = new PendingPortIo
        {
            Port = PortOperand(in i, 0), Size = (byte)size, IsWrite = true,
            Data = RegisterFile.Read(_gpr, i.Op1Register), NextRip = i.NextIP,
        };
        return StepResult.PortIo;
    }

    /// <summary>Finishes an IN whose data arrived: the register gets it and RIP moves on.</summary>
    public void CompletePortIn(ulong data)
    {
        var io = PendingIo;
        if (io.IsString) CompleteStringIn(data);
        else RegisterFile.Write(_gpr, io.Destination, data & Mask(io.Size));
        if (!io.IsString) _cpu.Rip = io.NextRip;
    }

    /// <summary>Finishes an OUT after the VMM took the data.</summary>
    public void CompletePortOut()
    {
        var io = PendingIo;
        if (io.IsString) AdvanceStringIo(io, source: true);
        else _cpu.Rip = io.NextRip;
    }

    private StepResult StringPortIo(in Instruction i, bool output)
    {
        RequireIoPrivilege();
        int size = OperandSizeOfString(in i);
        int addressSize = StringAddressSize(in i);
        bool repeat = i.HasRepPrefix || i.HasRepePrefix;
        if (repeat && (_gpr[CpuState.Rcx] & Mask(addressSize)) == 0) return StepResult.Continue;
        ushort port = (ushort)_gpr[CpuState.Rdx];
        ulong data = 0;
        if (output)
        {
            ulong source = Linear(i.MemorySegment, _gpr[CpuState.Rsi] & Mask(addressSize));
            data = _mmu.Read(source, size);
        }
        else
        {
            // Probe the destination first so a fault happens before the device sees a read.
            _mmu.Translate(Linear(Register.ES, _gpr[CpuState.Rdi] & Mask(addressSize)), AccessKind.Write);
        }
        PendingIo = new PendingPortIo
        {
            Port = port, Size = (byte)size, IsWrite = output, Data = data, IsString = true,
            NextRip = i.NextIP, RepeatRip = repeat ? i.IP : i.NextIP,
        };
        _stringElementSize = size;
        _stringAddressSize = addressSize;
        _stringRepeat = repeat;
        return StepResult.PortIo;
    }

    private int _stringElementSize, _stringAddressSize;
    private bool _stringRepeat;

    private void CompleteStringIn(ulong data)
    {
        ulong destination = Linear(Register.ES, _gpr[CpuState.Rdi] & Mask(_stringAddressSize));
        _mmu.Write(destination, _stringElementSize, data);
        AdvanceStringIo(PendingIo, source: false);
    }

    private void AdvanceStringIo(PendingPortIo io, bool source)
    {
        int register = source ? CpuState.Rsi : CpuState.Rdi;
        AdvanceIndex(register, _stringElementSize, _stringAddressSize);
        if (_stringRepeat)
        {
            ulong count = (_gpr[CpuState.Rcx] - 1) & Mask(_stringAddressSize);
            SetCounter(count, _stringAddressSize);
            _cpu.Rip = count != 0 ? io.RepeatRip : io.NextRip;
        }
        else
        {
            _cpu.Rip = io.NextRip;
        }
    }
}
