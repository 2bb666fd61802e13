using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Accelerators.Emulate.Translate;

// Block ends: RIP and the count stored, then on into the next translation where that is safe (the block itself, a
// chained same-page slot, the jump table), else back to the run loop at the boundary.
internal sealed unsafe partial class BlockCompiler
{
    /// <summary>
    /// The end of the block with RIP = <paramref name="next"/> (a constant): the block's instructions retire. A branch
    /// back to the block's own start loops inside the code while nothing needs the run loop.
    /// </summary>
    private void EndBlock(ulong next)
    {
        int n = _block.Ops.Length;
        _a.add(__qword_ptr[rbp + GuestLayout.Retired], n);
        _a.mov(rax, next);
        _a.mov(__qword_ptr[rbp + GuestLayout.Rip], rax);
        if (_selfLoop && next != _block.StartRip && (next >> 12) == (_block.StartRip >> 12))
        {
            // A direct jump within the block's own page (QEMU's rule: the page's translation was checked when this
            // block was entered, so the target's is the same) goes on through a slot the run loop fills with the next
            // block's code; the run loop's block-boundary check first.
            var leaveHere = _a.CreateLabel();
            var slot = _a.CreateLabel();
            var miss = _a.CreateLabel();
            _chains.Add((slot, miss));
            _a.cmp(__dword_ptr[rbp + GuestLayout.Attention], 0);
            _a.jne(leaveHere);
            _a.mov(rax, __qword_ptr[rbp + GuestLayout.Retired]);
            _a.cmp(rax, __qword_ptr[rbp + GuestLayout.NextEventCheck]);
            _a.jae(leaveHere);
            _a.jmp(__qword_ptr[slot]);
            _a.Label(ref leaveHere);
        }
        if (_selfLoop && next == _block.StartRip && _block.Valid)
        {
            // The run loop's block-boundary check, done here: attention (kick, interrupt, code written by another
            // vCPU) or the timer poll's count leaves with RIP at the block's start and nothing of it run.
            var leave = _a.CreateLabel();
            _a.cmp(__dword_ptr[rbp + GuestLayout.Attention], 0);
            _a.jne(leave);
            _a.mov(rax, __qword_ptr[rbp + GuestLayout.Retired]);
            _a.cmp(rax, __qword_ptr[rbp + GuestLayout.NextEventCheck]);
            _a.jb(_body);
            _a.Label(ref leave);
        }
        else if (_selfLoop && (next >> 12) != (_block.StartRip >> 12))
        {
            // Another page: its translation may differ by now, so through the jump table, whose entries carry the
            // translation epoch they were made in.
            var leave = _a.CreateLabel();
            GoOnThroughTable(leave, next);
            _a.Label(ref leave);
        }
        LeaveAtBoundary();
    }

    /// <summary>The end of the block with RIP in rax (RET): on through the jump table when the next block is there.</summary>
    private void EndBlockAtRax()
    {
        _a.mov(__qword_ptr[rbp + GuestLayout.Rip], rax);
        _a.add(__qword_ptr[rbp + GuestLayout.Retired], _block.Ops.Length);
        if (_selfLoop)
        {
            var leave = _a.CreateLabel();
            GoOnThroughTable(leave, null);
            _a.Label(ref leave);
        }
        LeaveAtBoundary();
    }

    /// <summary>Back to the run loop at a block boundary (RIP is stored), naming this block as the one that ran last.</summary>
    private void LeaveAtBoundary()
    {
        _a.mov(__dword_ptr[rbp + GuestLayout.ExitBlock], _id);
        _a.mov(eax, TranslatedExit.Boundary);
        _a.jmp(_epilogue);
    }

    /// <summary>
    /// After the run loop's block-boundary check (attention, the timer poll's count), jumps into the translation the
    /// <see cref="JumpTable"/> holds for the next RIP (<paramref name="next"/>, or rax when null) in the current
    /// context; anything else goes to <paramref name="leave"/>. Clobbers rax, rcx, rdx.
    /// </summary>
    private void GoOnThroughTable(Label leave, ulong? next)
    {
        _a.cmp(__dword_ptr[rbp + GuestLayout.Attention], 0);
        _a.jne(leave);
        _a.mov(rcx, __qword_ptr[rbp + GuestLayout.Retired]);
        _a.cmp(rcx, __qword_ptr[rbp + GuestLayout.NextEventCheck]);
        _a.jae(leave);
        if (next is { } rip)
        {
            _a.mov(rdx, (ulong)(_jumpTable.Pointer + JumpTable.Slot(rip) * JumpTable.EntrySize));
            MovImmediate(rax, rip);
        }
        else
        {
            _a.mov(rdx, rax);
            _a.shr(rdx, 12);
            _a.xor(rdx, rax);
            _a.and(edx, JumpTable.Entries - 1);
            _a.shl(edx, 5);   // × EntrySize
            _a.mov(rcx, (ulong)_jumpTable.Pointer);
            _a.add(rdx, rcx);
        }
        _a.cmp(__qword_ptr[rdx], rax);
        _a.jne(leave);
        _a.mov(rcx, __qword_ptr[rbp + GuestLayout.Context]);
        _a.cmp(__qword_ptr[rdx + 8], rcx);
        _a.jne(leave);
        _a.jmp(__qword_ptr[rdx + 16]);
    }
}
