using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Accelerators.Emulate.Translate.HostCode;

namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// Translates a decoded block's micro-ops into x86-64 host code (tier 1: one template per form, state kept in
/// memory between instructions). The code works on the interpreter's own state in place — the pinned registers
/// (rbx), the <see cref="CpuHotState"/> (rbp) — and records flags in the same <see cref="LazyFlags"/> form, so at
/// every instruction boundary the interpreter can take over. It never computes what may fault or needs the
/// VMM: a soft-TLB miss, MMIO, a page-crossing access, a store into a code page, an instruction without a
/// compiled form or a condition whose flags are not known here each leave through a stub that sets RIP to that
/// instruction and returns its index (<see cref="TranslatedExit"/>); the interpreter runs it, with its own
/// faults, MMIO exits and invalidation. No exception can reach generated code: nothing in it calls back.
/// </summary>
internal sealed unsafe partial class BlockCompiler
{
    private readonly CpuState _cpu;
    private readonly Mmu _mmu;
    private readonly PhysicalMemory _physical;
    private readonly JumpTable _jumpTable;

    // Per translation.
    private Assembler _a = null!;
    private DecodedBlock _block = null!;
    private readonly Dictionary<int, Label> _exits = [];
    private Label _epilogue, _body, _revoked;
    private readonly List<(Label Slot, Label Miss)> _chains = [];
    private bool _paging, _longMode, _user, _code64, _selfLoop, _withoutStores;
    private int _id, _k;
    private FlagProducer _producer;
    // The flag record's kind and size when translation began (the block's entry state), until a guard uses it.
    private (FlagOp Op, byte Size)? _entryFlags;

    public BlockCompiler(CpuState cpu, Mmu mmu, PhysicalMemory physical, JumpTable jumpTable)
    {
        _cpu = cpu;
        _mmu = mmu;
        _physical = physical;
        _jumpTable = jumpTable;
    }

    /// <summary>What the last flag-setting instruction of this block was, when one ran before the current one.</summary>
    private struct FlagProducer
    {
        public bool Known;
        public FlagOp Op;
        public int Size;
        public int Count;   // shifts: the immediate count
    }

    /// <summary>
    /// Host code for <paramref name="block"/> as the CPU is now (mode, paging, CPL); the code is laid out for
    /// <paramref name="address"/>. <paramref name="length"/> is how many instructions it runs before it hands the
    /// block to the interpreter (0: none compiles; no code then). <paramref name="selfLoop"/> lets a block that
    /// branches to its own start loop inside the code (with the attention and budget check at each iteration).
    /// <paramref name="id"/> is written to <see cref="CpuHotState.ExitBlock"/> when the code leaves at an instruction.
    /// <paramref name="withoutStores"/> leaves every instruction that writes memory to the interpreter (--jit verify).
    /// </summary>
    public byte[]? Compile(DecodedBlock block, int id, bool selfLoop, bool withoutStores, out int length, out CodeLayout layout)
    {
        var code = Compile(block, id, selfLoop, withoutStores, liveness: !withoutStores, out length, out layout);
        // Cut before an instruction that an earlier skipped flag record relied on reaching: compile again with every record.
        if (_deadUntil >= length && length < block.Ops.Length) code = Compile(block, id, selfLoop, withoutStores, liveness: false, out length, out layout);
        return code;
    }

    private byte[]? Compile(DecodedBlock block, int id, bool selfLoop, bool withoutStores, bool liveness, out int length, out CodeLayout layout)
    {
        _block = block;
        _liveness = liveness;
        _deadUntil = -1;
        _a = new Assembler(64);
        _exits.Clear();
        _chains.Clear();
        _epilogue = _a.CreateLabel("epilogue");
        _body = _a.CreateLabel("body");
        _revoked = _a.CreateLabel("revoked");
        _paging = _cpu.Paging;
        _longMode = _cpu.LongModeActive;
        _user = _cpu.Cpl == 3;
        _code64 = _cpu.Is64BitCode;
        _selfLoop = selfLoop;
        _withoutStores = withoutStores;
        _id = id;
        _producer = default;
        _entryFlags = (_cpu.Flags.Op, _cpu.Flags.Size);

        _a.push(rbx);
        _a.push(rbp);
        _a.mov(rbx, (ulong)_cpu.GprPointer);
        _a.mov(rbp, (ulong)_cpu.Hot);
        _a.Label(ref _body);
        // Five bytes that do nothing until the block is revoked (its code was written, or a newer translation replaced
        // it): then they become a jump to the exit below, so chained jumps from other blocks that still lead here
        // go back to the run loop (see CompiledBlock.Revoke).
        _a.db(0x0F, 0x1F, 0x44, 0x00, 0x00);

        var ops = block.Ops;
        length = 0;
        layout = default;
        bool ended = false;
        for (int k = 0; k < ops.Length; k++)
        {
            _k = k;
            if (!TryEmit(k, in ops[k], out ended)) break;
            length = k + 1;
            if (ended) break;
        }
        if (length == 0) return null;
        if (!ended)
        {
            if (length < ops.Length) _a.jmp(Exit(length));
            else EndBlock(ops[length - 1].NextIp);
        }

        // Out-of-line exits: RIP names the instruction the interpreter runs next; the index tells it where in the block.
        foreach (var (index, label) in _exits.OrderBy(e => e.Key))
        {
            var l = label;
            _a.Label(ref l);
            _a.mov(rax, block.Instructions[index].IP);
            _a.mov(__qword_ptr[rbp + GuestLayout.Rip], rax);
            _a.mov(__dword_ptr[rbp + GuestLayout.ExitBlock], id);
            _a.mov(eax, index);
            _a.jmp(_epilogue);
        }
        _a.Label(ref _revoked);
        _a.mov(rax, block.StartRip);
        _a.mov(__qword_ptr[rbp + GuestLayout.Rip], rax);
        _a.mov(__dword_ptr[rbp + GuestLayout.ExitBlock], id);
        _a.mov(eax, TranslatedExit.Boundary);
        _a.Label(ref _epilogue);
        _a.pop(rbp);
        _a.pop(rbx);
        _a.ret();

        // A chain's miss: tell the run loop which slot to fill, and leave at the block boundary (RIP is stored).
        var chains = _chains.ToArray();   // labels are structs: marked in place so their positions can be read back
        for (int c = 0; c < chains.Length; c++)
        {
            _a.Label(ref chains[c].Miss);
            _a.lea(rax, __[chains[c].Slot]);
            _a.mov(__qword_ptr[rbp + GuestLayout.ChainSlot], rax);
            _a.mov(__dword_ptr[rbp + GuestLayout.ExitBlock], id);
            _a.mov(eax, TranslatedExit.Boundary);
            _a.jmp(_epilogue);
        }
        // The slots: data (x86 needs no alignment for them; only this vCPU's thread reads or writes them), each holding
        // where its jump goes: its miss until the run loop chains it.
        for (int c = 0; c < chains.Length; c++)
        {
            _a.Label(ref chains[c].Slot);
            _a.dq(0UL);
        }

        // Position-independent (internal branches are relative, addresses absolute): assembled at 0, copied anywhere.
        var writer = new ByteWriter();
        var result = _a.Assemble(writer, 0, BlockEncoderOptions.ReturnNewInstructionOffsets);
        layout = new CodeLayout
        {
            Body = (int)result.GetLabelRIP(_body),
            Revoked = (int)result.GetLabelRIP(_revoked),
            Slots = [.. chains.Select(c => ((int)result.GetLabelRIP(c.Slot), (int)result.GetLabelRIP(c.Miss)))],
        };
        return writer.ToArray();
    }

    /// <summary>The stub that leaves at instruction <paramref name="index"/> for the interpreter.</summary>
    private Label Exit(int index)
    {
        if (!_exits.TryGetValue(index, out var label)) _exits[index] = label = _a.CreateLabel();
        return label;
    }

    private static MemoryOperand Guest(int register, int offset = 0) => new(Register.RBX, register * 8 + offset);

    private static MemoryOperand HotField(int offset) => new(Register.RBP, offset);

    /// <summary>Loads a guest register's value at <paramref name="size"/>, zero-extended, into host register <paramref name="to"/>.</summary>
    private void LoadRegister(Register to, int register, int size, bool high)
    {
        switch (size)
        {
            case 8: _a.Emit(Code.Mov_r64_rm64, to, Guest(register)); break;
            case 4: _a.Emit(Code.Mov_r32_rm32, Sized(to, 4), Guest(register)); break;
            case 2: _a.Emit(Code.Movzx_r32_rm16, Sized(to, 4), Guest(register)); break;
            default: _a.Emit(Code.Movzx_r32_rm8, Sized(to, 4), Guest(register, high ? 1 : 0)); break;
        }
    }

    /// <summary>Writes host register <paramref name="from"/> to a guest register with x86-64's rules: a 32-bit write zeroes the upper half, 8/16-bit writes merge.</summary>
    private void StoreRegister(int register, int size, bool high, Register from)
    {
        switch (size)
        {
            case 8: _a.Emit(Code.Mov_rm64_r64, Guest(register), from); break;
            case 4:
                _a.Emit(Code.Mov_r32_rm32, Sized(from, 4), Sized(from, 4));   // zero-extends
                _a.Emit(Code.Mov_rm64_r64, Guest(register), from);
                break;
            case 2: _a.Emit(Code.Mov_rm16_r16, Guest(register), Sized(from, 2)); break;
            default: _a.Emit(Code.Mov_rm8_r8, Guest(register, high ? 1 : 0), Sized(from, 1)); break;
        }
    }

    /// <summary>Loads <paramref name="size"/> bytes at the host address in rsi, zero-extended, into <paramref name="to"/>.</summary>
    private void LoadHost(Register to, int size)
    {
        var at = new MemoryOperand(Register.RSI);
        switch (size)
        {
            case 8: _a.Emit(Code.Mov_r64_rm64, to, at); break;
            case 4: _a.Emit(Code.Mov_r32_rm32, Sized(to, 4), at); break;
            case 2: _a.Emit(Code.Movzx_r32_rm16, Sized(to, 4), at); break;
            default: _a.Emit(Code.Movzx_r32_rm8, Sized(to, 4), at); break;
        }
    }

    private void StoreHost(int size, Register from) =>
        _a.Emit(BySize(size, Code.Mov_rm64_r64, Code.Mov_rm32_r32, Code.Mov_rm16_r16, Code.Mov_rm8_r8), new MemoryOperand(Register.RSI), Sized(from, size));

    /// <summary>Truncates <paramref name="r"/> to <paramref name="size"/> bytes (zero-extended), as the interpreter's <c>&amp; Mask(size)</c>.</summary>
    private void Truncate(Register r, int size)
    {
        switch (size)
        {
            case 4: _a.Emit(Code.Mov_r32_rm32, Sized(r, 4), Sized(r, 4)); break;
            case 2: _a.Emit(Code.Movzx_r32_rm16, Sized(r, 4), Sized(r, 2)); break;
            case 1: _a.Emit(Code.Movzx_r32_rm8, Sized(r, 4), Sized(r, 1)); break;
        }
    }

    private void MovImmediate(Register r, ulong value)
    {
        if (value <= uint.MaxValue) _a.AddInstruction(Instruction.Create(Code.Mov_r32_imm32, Sized(r, 4), (uint)value));
        else _a.AddInstruction(Instruction.Create(Code.Mov_r64_imm64, r, value));
    }

    /// <summary>Where things are in a translation's code, as offsets from its start.</summary>
    public struct CodeLayout
    {
        /// <summary>The body (after the prologue): where chained jumps enter; its first five bytes are the revocation patch.</summary>
        public int Body;
        /// <summary>The exit a revoked body jumps to.</summary>
        public int Revoked;
        /// <summary>Each chain slot and its miss stub (the slot's initial target).</summary>
        public (int Slot, int Miss)[] Slots;
    }

    /// <summary>Code writer into a growable buffer.</summary>
    private sealed class ByteWriter : CodeWriter
    {
        private readonly List<byte> _bytes = new(256);
        public override void WriteByte(byte value) => _bytes.Add(value);
        public byte[] ToArray() => [.. _bytes];
    }
}
