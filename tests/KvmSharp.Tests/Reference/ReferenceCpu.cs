using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using static KvmSharp.Tests.Reference.UnicornNative;

namespace KvmSharp.Tests.Reference;

/// <summary>
/// One Unicorn x86 engine as the reference CPU for differential tests. Guest-caused faults come back as a
/// <see cref="ReferenceRun"/>; misuse by the test (unmapped host read, bad register index) throws.
/// One instance per test case: after a CPU exception Unicorn's engine is left in a state that turns the
/// next exception into #DF or swallows it (see README.md), so this wrapper refuses to run again.
/// </summary>
public sealed unsafe class ReferenceCpu : IDisposable
{
    private const string InstallHint = "install libunicorn2 (apt-get install -y libunicorn2): the reference CPU for differential tests";

    private readonly UnicornEngine _engine;
    private bool _exceptionTaken;

    public ReferenceMode Mode { get; }

    public ReferenceCpu(ReferenceMode mode)
    {
        Mode = mode;
        int ucMode = mode switch
        {
            ReferenceMode.Real16 => Mode16,
            ReferenceMode.Protected32 => Mode32,
            ReferenceMode.Long64 => Mode64,
            _ => throw new ArgumentOutOfRangeException(nameof(mode)),
        };
        Error error;
        nint uc;
        try
        {
            error = Open(ArchX86, ucMode, out uc);
        }
        catch (DllNotFoundException e)
        {
            throw new ReferenceCpuUnavailableException($"{Library} not found: {InstallHint}", e);
        }
        if (error != Error.Ok)
            throw new ReferenceCpuUnavailableException($"uc_open failed: {Describe(error)}");
        _engine = new UnicornEngine(uc);
        // Every interrupt and exception stops the run and records its vector. Without this hook Unicorn
        // returns UC_ERR_EXCEPTION and the vector is lost.
        Check(HookAdd(uc, out _, HookIntr, (delegate* unmanaged<nint, uint, int*, void>)&OnInterrupt,
            _engine.VectorCell, 1, 0), "uc_hook_add");
    }

    [UnmanagedCallersOnly]
    private static void OnInterrupt(nint uc, uint vector, int* cell)
    {
        *cell = (int)vector;
        EmuStop(uc);
    }

    private nint Uc => _engine.IsClosed ? throw new ObjectDisposedException(nameof(ReferenceCpu)) : _engine.DangerousGetHandle();

    /// <summary>Maps read/write/execute memory; Unicorn needs address and size 4 KiB-aligned.</summary>
    public void MapMemory(ulong address, ulong size) => Check(MemMap(Uc, address, (nuint)size, ProtAll), $"uc_mem_map 0x{address:X}+0x{size:X}");

    public void WriteMemory(ulong address, ReadOnlySpan<byte> bytes)
    {
        fixed (byte* p = bytes)
            Check(MemWrite(Uc, address, p, (nuint)bytes.Length), $"uc_mem_write 0x{address:X}");
    }

    public void ReadMemory(ulong address, Span<byte> into)
    {
        fixed (byte* p = into)
            Check(MemRead(Uc, address, p, (nuint)into.Length), $"uc_mem_read 0x{address:X}");
    }

    public byte[] ReadMemory(ulong address, int length)
    {
        var bytes = new byte[length];
        ReadMemory(address, bytes);
        return bytes;
    }

    // Unicorn reads and writes only the registers of the engine's own mode: RAX does nothing in UC_MODE_32,
    // so narrower modes use the E-registers (zero-extended), and R8–R15 do not exist below long mode.
    private static readonly int[] Gpr64 = [Reg.Rax, Reg.Rcx, Reg.Rdx, Reg.Rbx, Reg.Rsp, Reg.Rbp, Reg.Rsi, Reg.Rdi];
    private static readonly int[] Gpr32 = [Reg.Eax, Reg.Ecx, Reg.Edx, Reg.Ebx, Reg.Esp, Reg.Ebp, Reg.Esi, Reg.Edi];

    private int GprId(Gpr reg)
    {
        int n = (int)reg;
        if ((uint)n >= 16) throw new ArgumentOutOfRangeException(nameof(reg));
        if (Mode == ReferenceMode.Long64) return n < 8 ? Gpr64[n] : Reg.R8 + n - 8;
        if (n >= 8) throw new ArgumentOutOfRangeException(nameof(reg), $"{reg} exists only in long mode");
        return Gpr32[n];
    }

    public ulong GetRegister(Gpr reg) => ReadU64(GprId(reg));
    public void SetRegister(Gpr reg, ulong value) => WriteU64(GprId(reg), value);

    /// <summary>RIP in long mode, EIP (zero-extended) below it.</summary>
    public ulong Rip
    {
        get => ReadU64(Mode == ReferenceMode.Long64 ? Reg.Rip : Reg.Eip);
        set => WriteU64(Mode == ReferenceMode.Long64 ? Reg.Rip : Reg.Eip, value);
    }

    public ulong Rflags
    {
        get => ReadU64(Mode == ReferenceMode.Long64 ? Reg.Rflags : Reg.Eflags);
        set => WriteU64(Mode == ReferenceMode.Long64 ? Reg.Rflags : Reg.Eflags, value);
    }

    public UInt128 GetXmm(int index) { UInt128 v = 0; Check(RegRead(Uc, XmmId(index), &v), "uc_reg_read XMM"); return v; }
    public void SetXmm(int index, UInt128 value) => Check(RegWrite(Uc, XmmId(index), &value), "uc_reg_write XMM");

    private int XmmId(int index) =>
        (uint)index < (Mode == ReferenceMode.Long64 ? 16u : 8u) ? Reg.Xmm0 + index : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Loads a selector; in real mode Unicorn also sets the base to selector × 16.</summary>
    public void SetSegment(SegmentRegister seg, ushort selector) => WriteU64(SegmentId(seg), selector);
    public ushort GetSegment(SegmentRegister seg) => (ushort)ReadU64(SegmentId(seg));

    private static int SegmentId(SegmentRegister seg) => seg switch
    {
        SegmentRegister.Es => Reg.Es, SegmentRegister.Cs => Reg.Cs, SegmentRegister.Ss => Reg.Ss,
        SegmentRegister.Ds => Reg.Ds, SegmentRegister.Fs => Reg.Fs, SegmentRegister.Gs => Reg.Gs,
        _ => throw new ArgumentOutOfRangeException(nameof(seg)),
    };

    public ulong Cr0 { get => ReadU64(Reg.Cr0); set => WriteU64(Reg.Cr0, value); }
    public ulong Cr2 { get => ReadU64(Reg.Cr2); set => WriteU64(Reg.Cr2, value); }
    public ulong Cr3 { get => ReadU64(Reg.Cr3); set => WriteU64(Reg.Cr3, value); }
    public ulong Cr4 { get => ReadU64(Reg.Cr4); set => WriteU64(Reg.Cr4, value); }
    public uint Mxcsr { get => (uint)ReadU64(Reg.Mxcsr); set => WriteU64(Reg.Mxcsr, value); }
    public ulong FsBase { get => ReadU64(Reg.FsBase); set => WriteU64(Reg.FsBase, value); }
    public ulong GsBase { get => ReadU64(Reg.GsBase); set => WriteU64(Reg.GsBase, value); }
    public DescriptorTable Gdtr { get => ReadTable(Reg.Gdtr); set => WriteTable(Reg.Gdtr, value); }
    public DescriptorTable Idtr { get => ReadTable(Reg.Idtr); set => WriteTable(Reg.Idtr, value); }

    public ulong ReadMsr(uint index)
    {
        var msr = new X86Msr { Index = index };
        Check(RegRead(Uc, Reg.Msr, &msr), $"uc_reg_read MSR 0x{index:X}");
        return msr.Value;
    }

    public void WriteMsr(uint index, ulong value)
    {
        var msr = new X86Msr { Index = index, Value = value };
        Check(RegWrite(Uc, Reg.Msr, &msr), $"uc_reg_write MSR 0x{index:X}");
    }

    /// <summary>
    /// Runs from <paramref name="start"/> until RIP equals <paramref name="until"/>, at most
    /// <paramref name="maxInstructions"/> instructions. A count is always passed to Unicorn: only then does
    /// it keep RIP exact per instruction, so a memory fault reports the faulting instruction, not the start
    /// of its translation block.
    /// </summary>
    public ReferenceRun Run(ulong start, ulong until, ulong maxInstructions = 1_000_000)
    {
        ArgumentOutOfRangeException.ThrowIfZero(maxInstructions);
        var run = Execute(start, until, maxInstructions);
        return run.Outcome == ReferenceOutcome.Completed && run.Rip != until
            ? run with { Outcome = ReferenceOutcome.InstructionLimit } : run;
    }

    /// <summary>Writes <paramref name="code"/> at <paramref name="start"/> (mapped already) and runs exactly <paramref name="count"/> instructions.</summary>
    public ReferenceRun RunInstructions(ulong start, ReadOnlySpan<byte> code, int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        WriteMemory(start, code);
        // until = an address the code cannot reach, so only the count (or a fault) ends the run.
        return Execute(start, ulong.MaxValue, (ulong)count);
    }

    private ReferenceRun Execute(ulong start, ulong until, ulong count)
    {
        if (_exceptionTaken)
            throw new InvalidOperationException("This ReferenceCpu took a CPU exception; Unicorn's engine is unreliable after that, use a new one.");
        *_engine.VectorCell = -1;
        var error = EmuStart(Uc, start, until, 0, (nuint)count);
        ulong rip = Rip;
        int vector = *_engine.VectorCell;
        if (vector >= 0)
        {
            _exceptionTaken = true;
            return new ReferenceRun(ReferenceOutcome.CpuException, rip, vector);
        }
        var outcome = error switch
        {
            Error.Ok => IsAfterHlt(rip) ? ReferenceOutcome.Halted : ReferenceOutcome.Completed,
            Error.InsnInvalid => ReferenceOutcome.InvalidInstruction,
            Error.ReadUnmapped => ReferenceOutcome.ReadUnmapped,
            Error.WriteUnmapped => ReferenceOutcome.WriteUnmapped,
            Error.FetchUnmapped => ReferenceOutcome.FetchUnmapped,
            _ => throw new InvalidOperationException($"uc_emu_start at 0x{start:X}: {Describe(error)}"),
        };
        return new ReferenceRun(outcome, rip);
    }

    // Unicorn ends a run at HLT with UC_ERR_OK and RIP after it; telling that apart from a count that
    // happened to end there needs a look back at the byte before RIP.
    private bool IsAfterHlt(ulong rip)
    {
        if (rip == 0) return false;
        byte b;
        return MemRead(Uc, rip - 1, &b, 1) == Error.Ok && b == 0xF4;
    }

    /// <summary>Snapshots what the differential harness compares: GPRs, RIP, RFLAGS, XMM and the given memory ranges.</summary>
    public ReferenceState Capture(params ReadOnlySpan<(ulong Address, int Length)> memory)
    {
        // Below long mode only 8 GPRs and 8 XMM registers exist; the rest stay zero in the snapshot.
        int count = Mode == ReferenceMode.Long64 ? 16 : 8;
        var state = new ReferenceState();
        for (int i = 0; i < count; i++) state.Gprs[i] = GetRegister((Gpr)i);
        for (int i = 0; i < count; i++) state.Xmm[i] = GetXmm(i);
        state.Rip = Rip;
        state.Rflags = Rflags;
        foreach (var (address, length) in memory)
            state.Memory.Add(new MemoryContents(address, ReadMemory(address, length)));
        return state;
    }

    /// <summary>Loads a snapshot's registers and memory contents (the memory must be mapped).</summary>
    public void Load(ReferenceState state)
    {
        int count = Mode == ReferenceMode.Long64 ? 16 : 8;
        for (int i = 0; i < count; i++) SetRegister((Gpr)i, state.Gprs[i]);
        for (int i = 0; i < count; i++) SetXmm(i, state.Xmm[i]);
        Rip = state.Rip;
        Rflags = state.Rflags;
        foreach (var m in state.Memory) WriteMemory(m.Address, m.Bytes);
    }

    private ulong ReadU64(int id) { ulong v = 0; Check(RegRead(Uc, id, &v), $"uc_reg_read {id}"); return v; }
    private void WriteU64(int id, ulong v) => Check(RegWrite(Uc, id, &v), $"uc_reg_write {id}");

    private DescriptorTable ReadTable(int id)
    {
        var mmr = default(X86Mmr);
        Check(RegRead(Uc, id, &mmr), "uc_reg_read GDTR/IDTR");
        return new DescriptorTable(mmr.Base, (ushort)mmr.Limit);
    }

    private void WriteTable(int id, DescriptorTable table)
    {
        var mmr = new X86Mmr { Base = table.Base, Limit = table.Limit };
        Check(RegWrite(Uc, id, &mmr), "uc_reg_write GDTR/IDTR");
    }

    private static void Check(Error error, string what, [CallerMemberName] string caller = "")
    {
        if (error != Error.Ok)
            throw new InvalidOperationException($"{caller}: {what}: {Describe(error)}");
    }

    public void Dispose() => _engine.Dispose();

    /// <summary>Owns the uc_engine and the native cell the interrupt hook writes its vector into.</summary>
    private sealed class UnicornEngine : SafeHandle
    {
        public readonly int* VectorCell = (int*)NativeMemory.Alloc(sizeof(int));

        public UnicornEngine(nint uc) : base(0, ownsHandle: true) => SetHandle(uc);

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            UnicornNative.Close(handle);
            NativeMemory.Free(VectorCell);
            return true;
        }
    }
}
