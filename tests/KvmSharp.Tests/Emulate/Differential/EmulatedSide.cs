using KvmSharp.Accelerators.Emulate;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using KvmSharp.Native.X86;
using KvmSharp.Tests.Reference;
using static KvmSharp.Tests.Emulate.Differential.DiffLayout;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>How a run on either CPU ended: at a HLT of the case, or with a fault (vector) at an instruction.</summary>
public readonly record struct DiffOutcome(string Kind, int Vector = -1)
{
    public static readonly DiffOutcome Halted = new("halted");
    public static DiffOutcome Fault(int vector) => new("fault", vector);
    public override string ToString() => Vector >= 0 ? $"{Kind} #{vector(Vector)}" : Kind;
    private static string vector(int v) => v switch { 0 => "DE", 6 => "UD", 8 => "DF", 13 => "GP", 14 => "PF", 12 => "SS", _ => v.ToString() };
}

/// <summary>
/// Our software CPU set up the way Unicorn's mode is: Long64 = EFER.LME|LMA, CR0.PE, a 64-bit CS, paging
/// off (our MMU maps linear = physical then); Protected32 = CR0.PE with flat 32-bit segments. A fault is
/// delivered through a real IDT whose handlers are HLT at <see cref="DiffLayout.Handlers"/> + vector; the
/// state at the fault (RIP, RSP, RFLAGS) is read back from the exception frame.
/// </summary>
public sealed class EmulatedSide : IDisposable
{
    private readonly GuestMemory _memory;
    private readonly PhysicalMemory _physical;
    private readonly CpuState _cpu = new();
    private readonly CpuCore _core;
    private readonly DiffMode _mode;
    private readonly Segment[] _segments = new Segment[6];
    private readonly Timer _watchdog;
    private long _runNumber, _watchedRun = -1;

    public EmulatedSide(DiffMode mode)
    {
        _mode = mode;
        _memory = GuestMemory.Create(MemorySize);
        _physical = new PhysicalMemory(_memory);
        _core = new CpuCore(_cpu, _physical, new EmulatedCpuModel(0, 1));
        bool long64 = mode == DiffMode.Long64;

        var code64 = Segment.Flat(Code64Selector, 0xB, code64: true);
        var code32 = Segment.Flat(Code32Selector, 0xB, code64: false);
        var data = Segment.Flat(DataSelector, 0x3, code64: false);
        _memory.Write(new GuestAddress(Gdt + Code64Selector), code64.ToDescriptor());
        _memory.Write(new GuestAddress(Gdt + DataSelector), data.ToDescriptor());
        _memory.Write(new GuestAddress(Gdt + Code32Selector), code32.ToDescriptor());
        // 64-bit TSS (SDM vol 3 §8.7): IST1 at offset 0x24.
        _memory.Write(new GuestAddress(Tss + 0x24), InterruptStackTop);
        for (int vector = 0; vector < 32; vector++)
        {
            ulong handler = Handlers + (ulong)vector;
            _memory.Write(new GuestAddress(handler), (byte)0xF4);
            ushort selector = long64 ? Code64Selector : Code32Selector;
            // Interrupt gate (type 0xE), present, DPL 0; 64-bit gates use IST1 (SDM vol 3 §6.14.1).
            ulong low = (handler & 0xFFFF) | ((ulong)selector << 16) | (0x8EUL << 40) | ((handler >> 16 & 0xFFFF) << 48);
            if (long64)
            {
                _memory.Write(new GuestAddress(Idt + (ulong)vector * 16), low | (1UL << 32));
                _memory.Write(new GuestAddress(Idt + (ulong)vector * 16 + 8), handler >> 32);
            }
            else
            {
                _memory.Write(new GuestAddress(Idt + (ulong)vector * 8), low);
            }
        }

        _cpu.Cr0 = 0x11;   // PE | ET, as Unicorn starts
        _cpu.Efer = long64 ? SpecialRegisters.EferLongModeEnable | SpecialRegisters.EferLongModeActive : 0;
        _cpu.Gdt = new KvmSharp.Native.X86.DescriptorTable { Base = Gdt, Limit = 0x2F };
        _cpu.Idt = new KvmSharp.Native.X86.DescriptorTable { Base = Idt, Limit = (ushort)(long64 ? 32 * 16 - 1 : 32 * 8 - 1) };
        _cpu.Tr = new Segment { Base = Tss, Limit = 0x67, Selector = TssSelector, Type = 0xB, Present = 1 };
        for (int i = 0; i < 6; i++) _segments[i] = data with { Selector = DataSelector };
        _segments[CpuState.Cs] = long64 ? code64 : code32;
        Unimplemented = _core.Executor.Unimplemented;
        _watchdog = new Timer(_ => Watch(), null, 5000, 5000);
    }

    /// <summary>Kicks a run that is still the same one as 5 s ago: a case that never reaches HLT fails instead of hanging.</summary>
    private void Watch()
    {
        long now = Interlocked.Read(ref _runNumber);
        if ((now & 1) == 1 && now == _watchedRun) _core.Kick();
        _watchedRun = now;
    }

    public UnimplementedInstructions Unimplemented { get; }

    /// <summary>CR4.OSFXSR (SDM vol 3 §2.5) and MXCSR's power-up value (SDM vol 1 §10.2.3.1), set before every case on both CPUs.</summary>
    public const ulong Cr4Osfxsr = 1 << 9;
    public const uint MxcsrReset = 0x1F80;

    public void WriteMemory(ulong address, ReadOnlySpan<byte> bytes) => _memory.Write(new GuestAddress(address), bytes);

    public void ReadMemory(ulong address, Span<byte> into) => _memory.Read(new GuestAddress(address), into);

    /// <summary>Runs from <paramref name="rip"/> until a HLT; returns how it ended and the state then.</summary>
    /// <returns>How the run ended, the state then, and (Protected32 faults) the stack bytes our exception frame overwrote.</returns>
    public (DiffOutcome Outcome, ReferenceState State, (ulong Address, int Length) Frame) Run(DiffCase c, ulong rip, ulong rflags)
    {
        int count = _mode == DiffMode.Long64 ? 16 : 8;
        Array.Clear(_cpu.Gpr);
        for (int i = 0; i < count; i++) _cpu.Gpr[i] = _mode == DiffMode.Long64 ? c.Gprs[i] : c.Gprs[i] & 0xFFFF_FFFF;
        for (int i = 0; i < _segments.Length; i++) _cpu.Segments.Set(i, _segments[i]);
        _cpu.Rip = rip;
        _cpu.Rflags = rflags;
        for (int i = 0; i < count; i++) (_cpu.Xmm[2 * i], _cpu.Xmm[2 * i + 1]) = ((ulong)c.Xmm[i], (ulong)(c.Xmm[i] >> 64));
        _cpu.Cr4 = c.Osfxsr ? _cpu.Cr4 | Cr4Osfxsr : _cpu.Cr4 & ~Cr4Osfxsr;
        _cpu.Mxcsr = MxcsrReset;

        long run = Interlocked.Increment(ref _runNumber);
        _core.Wake();   // the previous case ended in HLT
        var stop = _core.Run();
        Interlocked.Exchange(ref _runNumber, run + 1);   // the watchdog's run is over
        var state = new ReferenceState();
        for (int i = 0; i < count; i++) state.Gprs[i] = _cpu.Gpr[i];
        for (int i = 0; i < count; i++) state.Xmm[i] = new UInt128(_cpu.Xmm[2 * i + 1], _cpu.Xmm[2 * i]);
        state.Rip = _cpu.Rip;
        state.Rflags = _cpu.Rflags;
        if (stop != CoreStop.Halt)
            return (new DiffOutcome(stop == CoreStop.Kicked ? "runaway (no HLT within 5 s)" : $"stopped: {stop}"), state, default);
        ulong handlerOffset = _cpu.Rip - 1 - Handlers;
        if (handlerOffset >= 32)
            return (DiffOutcome.Halted, state, default);

        // A fault: the exception frame holds RIP, RSP and RFLAGS at the faulting instruction (SDM vol 3 §6.14.2, §6.12.1).
        int vector = (int)handlerOffset;
        bool errorCode = ExceptionVector.HasErrorCode((byte)vector);
        if (_mode == DiffMode.Long64)
        {
            // IST1 frame, 16-byte aligned: [error code,] RIP, CS, RFLAGS, RSP, SS; the case's stack is untouched.
            const ulong frame = InterruptStackTop - 40;
            state.Rip = Read(frame, 8);
            state.Rflags = Read(frame + 16, 8);
            state.Gprs[CpuState.Rsp] = Read(frame + 24, 8);
            return (DiffOutcome.Fault(vector), state, default);
        }
        // Same privilege, no stack switch: [error code,] EIP, CS, EFLAGS pushed on the case's stack.
        ulong bottom = _cpu.Gpr[CpuState.Rsp] & 0xFFFF_FFFF;
        ulong eip = bottom + (errorCode ? 4UL : 0);
        state.Rip = Read(eip, 4);
        state.Rflags = Read(eip + 8, 4);
        state.Gprs[CpuState.Rsp] = eip + 12;
        return (DiffOutcome.Fault(vector), state, (bottom, (int)(eip + 12 - bottom)));
    }

    private ulong Read(ulong address, int size)
    {
        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        _memory.Read(new GuestAddress(address), bytes[..size]);
        return BitConverter.ToUInt64(bytes);
    }

    public void Dispose()
    {
        _watchdog.Dispose();
        _memory.Dispose();
    }
}
