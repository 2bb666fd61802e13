using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Accelerators.Emulate.Translate.HostCode;

namespace KvmSharp.Accelerators.Emulate.Translate;

// The stack forms of 64-bit code: PUSH/POP of a register, CALL rel32, RET.
internal sealed unsafe partial class BlockCompiler
{
    /// <summary>PUSH/POP of a register, CALL rel32 and RET in 64-bit code (flat SS, 8-byte stack slots).</summary>
    private bool EmitStack(int k, in MicroOp op, ref bool ended)
    {
        if (!_code64 || op.Size != 8) return false;
        switch (op.Kind)
        {
            case MicroKind.Push:
                if (op.DestinationKind != MicroOperand.Register) return false;
                _a.mov(rax, __qword_ptr[rbx + CpuState.Rsp * 8]);
                _a.sub(rax, 8);
                Probe(8, write: true, k);
                LoadRegister(Register.RAX, op.Destination, 8, false);   // the value before RSP moves (PUSH RSP pushes the old one)
                StoreHost(8, Register.RAX);
                _a.sub(__qword_ptr[rbx + CpuState.Rsp * 8], 8);
                return true;
            case MicroKind.Pop:
                if (op.DestinationKind != MicroOperand.Register) return false;
                _a.mov(rax, __qword_ptr[rbx + CpuState.Rsp * 8]);
                Probe(8, write: false, k);
                LoadHost(Register.RAX, 8);
                _a.add(__qword_ptr[rbx + CpuState.Rsp * 8], 8);
                StoreRegister(op.Destination, 8, false, Register.RAX);   // POP RSP: the value read wins
                return true;
            case MicroKind.Call:
                _a.mov(rax, __qword_ptr[rbx + CpuState.Rsp * 8]);
                _a.sub(rax, 8);
                Probe(8, write: true, k);
                MovImmediate(rax, op.NextIp);
                StoreHost(8, Register.RAX);
                _a.sub(__qword_ptr[rbx + CpuState.Rsp * 8], 8);
                EndBlock(op.Target);
                ended = true;
                return true;
            case MicroKind.Ret:
                _a.mov(rax, __qword_ptr[rbx + CpuState.Rsp * 8]);
                Probe(8, write: false, k);
                LoadHost(Register.RAX, 8);
                _a.add(__qword_ptr[rbx + CpuState.Rsp * 8], 8);
                EndBlockAtRax();
                ended = true;
                return true;
            default:
                return false;
        }
    }
}
