using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Accelerators.Emulate.Translate;

// Memory operands: the effective address, then an inline probe of the MMU's own soft TLB (or, with paging off,
// of the RAM region) that yields a host pointer in rsi or leaves for the interpreter. The probe comes before
// anything of the instruction happens, so a miss leaves the state exactly as before it.
internal sealed unsafe partial class BlockCompiler
{
    /// <summary>
    /// Whether a micro-op's memory operand can be reached from translated code: any segment (its base is added
    /// from the pinned segment registers; the interpreter checks no limits either), with 32/64-bit addressing.
    /// </summary>
    private static bool MemoryCompiles(in MicroOp op) => op.FlatSegment || SegmentIndex(op.Segment) >= 0;

    private static int SegmentIndex(Register segment) => segment switch
    {
        Register.ES => CpuState.Es, Register.CS => CpuState.Cs, Register.SS => CpuState.Ss,
        Register.DS => CpuState.Ds, Register.FS => CpuState.Fs, Register.GS => CpuState.Gs, _ => -1,
    };

    /// <summary>rax = the effective (here also linear) address of the op's memory operand, wrapped to its address size.</summary>
    private void EffectiveAddress(in MicroOp op)
    {
        MovImmediate(rax, op.Displacement);
        if (op.Base != MicroOp.NoRegister) _a.Emit(Code.Add_r64_rm64, Register.RAX, Guest(op.Base));
        if (op.Index != MicroOp.NoRegister)
        {
            _a.Emit(Code.Mov_r64_rm64, Register.RCX, Guest(op.Index));
            if (op.Scale == 1) _a.add(rax, rcx);
            else _a.lea(rax, __[rax + rcx * op.Scale]);
        }
        if (op.AddressMask == 0xFFFF_FFFF) _a.mov(eax, eax);
        if (op.FlatSegment || op.Kind == MicroKind.Lea) return;
        // The segment's base (in 64-bit code only FS and GS have one; Executor.SegmentBase), then the linear wrap.
        if (_code64 && op.Segment is not (Register.FS or Register.GS)) return;
        _a.mov(rcx, (ulong)_cpu.Segments.BasePointer(SegmentIndex(op.Segment)));
        _a.add(rax, __qword_ptr[rcx]);
        if (!_longMode) _a.mov(eax, eax);
    }

    /// <summary>
    /// rsi = the host address of the <paramref name="size"/> bytes at linear address rax for a read or a write;
    /// anything else leaves at instruction <paramref name="index"/>. Clobbers rcx, rdx, r8, r10.
    /// </summary>
    private void Probe(int size, bool write, int index)
    {
        var slow = Exit(index);
        if (_paging)
        {
            // The entry for rax's page; its tag for this access and privilege is the page | 1 when allowed (a write
            // tag only once the page is dirty). Comparing with the page of the access's last byte also sends a
            // page-crossing access to the slow path.
            _a.mov(rdx, rax);
            _a.shr(rdx, 12);
            _a.and(edx, Mmu.TlbEntries - 1);
            _a.shl(edx, 6);
            _a.mov(r10, (ulong)_mmu.TlbPointer);
            _a.add(rdx, r10);
            _a.lea(rcx, __[rax + (size - 1)]);
            _a.and(rcx, -4096);
            _a.or(rcx, 1);
            int tag = write ? (_user ? GuestLayout.TlbUserWrite : GuestLayout.TlbWrite) : (_user ? GuestLayout.TlbUserRead : GuestLayout.TlbLinearPage);
            _a.cmp(rcx, __qword_ptr[rdx + tag]);
            _a.jne(slow);
            _a.mov(rsi, __qword_ptr[rdx + GuestLayout.TlbHostPage]);
            _a.test(rsi, rsi);
            _a.jz(slow);   // MMIO
            if (write)
            {
                _a.mov(rcx, __qword_ptr[rdx + GuestLayout.TlbPhysicalPage]);
                _a.shr(rcx, 12);
                CodePageTest(slow);
            }
            _a.mov(r8, rax);
            _a.and(r8d, 0xFFF);
            _a.add(rsi, r8);
            return;
        }

        // Paging off: physical = linear (32 bits outside long mode); RAM of the region that starts at 0 only, and no
        // page-crossing access (the interpreter splits those), as the MMU's own fast path.
        if (!_longMode) _a.mov(eax, eax);
        var ranges = _physical.Ranges;
        if (ranges.Length == 0 || ranges[0].Start != 0 || ranges[0].End < 0x1000)
        {
            _a.jmp(slow);
            return;
        }
        _a.mov(ecx, eax);
        _a.and(ecx, 0xFFF);
        _a.cmp(ecx, 0x1000 - size);
        _a.ja(slow);
        _a.mov(rcx, ranges[0].End - (ulong)size);
        _a.cmp(rax, rcx);
        _a.ja(slow);
        if (write)
        {
            _a.mov(r10, (ulong)_physical.DirtyLogOn);
            _a.cmp(__dword_ptr[r10], 0);
            _a.jne(slow);   // the interpreter marks each write in the log
            _a.mov(rcx, rax);
            _a.shr(rcx, 12);
            CodePageTest(slow);
        }
        _a.mov(rsi, (ulong)ranges[0].Host);
        _a.add(rsi, rax);
    }

    /// <summary>Leaves for the interpreter when physical page rcx holds decoded code: its store must drop those blocks.</summary>
    private void CodePageTest(Label slow)
    {
        _a.mov(r8, rcx);
        _a.shr(r8, 6);
        _a.mov(r10, (ulong)_physical.CodePageBits);
        _a.mov(r8, __qword_ptr[r10 + r8 * 8]);
        _a.bt(r8, rcx);
        _a.jc(slow);
    }
}
