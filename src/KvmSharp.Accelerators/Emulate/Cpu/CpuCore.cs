using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Platform;
using KvmSharp.Accelerators.Emulate.Translate;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>Why <see cref="CpuCore.Run"/> stopped.</summary>
public enum CoreStop : byte { PortIo, MmioRead, MmioWrite, Halt, Shutdown, Kicked, Failed, Init }

/// <summary>
/// The fetch–decode–execute loop of one emulated CPU: looks up (or decodes) the block at RIP, executes
/// it instruction by instruction, delivers faults through the IDT, and stops for anything the VMM must
/// handle. Nothing here allocates per instruction.
/// </summary>
public sealed unsafe partial class CpuCore : IMmioPort
{
    private readonly CpuState _cpu;
    private readonly PhysicalMemory _physical;
    private readonly BlockCache _blocks;
    private readonly JumpCache _jumpCache = new();
    private readonly byte[] _fetchBuffer = new byte[4096 + 15];
    private volatile bool _kickRequested;
    private LazyFlags _flagsBefore;

    // The one check of the hot path: attention (a kick, an interrupt, NMI or INIT arrived, code written by another
    // vCPU) or a timer poll due. The attention word is in the pinned CpuHotState so translated code checks it too.
    private bool _attention
    {
        get => Volatile.Read(ref _cpu.Hot->Attention) != 0;
        set => Volatile.Write(ref _cpu.Hot->Attention, value ? 1 : 0);
    }
    private ulong _nextEventCheck = ulong.MaxValue;

    // STI holds interrupts off until the instruction after it retired (SDM vol 2 "STI").
    private ulong _shadowEnd;

    // MMIO: a read is recorded, the instruction abandoned, and retried once the VMM supplied the value.
    private bool _mmioReadReady;
    private ulong _mmioReadAddress, _mmioReadValue;
    private int _mmioReadSize;
    private readonly Queue<(ulong Address, int Size, ulong Value)> _mmioWrites = new();

    /// <param name="translator">How the block translator is used; null: <see cref="TranslatorModes.Default"/>.</param>
    public CpuCore(CpuState cpu, PhysicalMemory physical, ICpuPlatform platform, TranslatorMode? translator = null)
    {
        _cpu = cpu;
        _physical = physical;
        Mmu = new Mmu(cpu, physical, this);
        Executor = new Executor(cpu, Mmu, platform);
        _blocks = new BlockCache(physical);
        // Code written by another vCPU: a translated block looping in place must come out to drop it.
        _blocks.StalePagesQueued = RaiseAttention;
        TranslatorMode = translator ?? TranslatorModes.Default;
        _stats = TranslatorStats.Create(() => _translator);
    }

    // KVMSHARP_JIT_STATS=1: counts per tier for profiling; null (one branch per block) otherwise.
    private readonly TranslatorStats? _stats;

    /// <summary>How this CPU uses its block translator; set before the first <see cref="Run"/> (the code cache is made then).</summary>
    public TranslatorMode TranslatorMode
    {
        get => _translatorMode;
        set
        {
            if (value == _translatorMode && (value == TranslatorMode.Off) == (_translator is null)) return;
            _translator?.Dispose();
            _translator = null;
            _translatorMode = value;
            if (value != TranslatorMode.Off) _translator = new Translator(value, _cpu, Mmu, _physical);
        }
    }

    private TranslatorMode _translatorMode;

    // A chain slot the last translated block left at (see Translator.Chain), with what it was left in.
    private nint _chainSlot;
    private int _chainGeneration, _chainMode;
    private ulong _chainRip;
    private Translator? _translator;

    /// <summary>The translator's counters (null with --jit off).</summary>
    public Translator? Translator => _translator;

    public Mmu Mmu { get; }

    public Executor Executor { get; }

    /// <summary>
    /// Instructions retired so far (the clock of deterministic mode). Counted per block, not per instruction:
    /// exact at every block boundary, before each generic instruction (the only ones that read the clock
    /// themselves: RDTSC, port I/O) and at each MMIO access (<see cref="SyncRetired"/>: LAPIC timer reads).
    /// </summary>
    public ulong InstructionsRetired => _retired;

    private ulong _retired;

    // The block being executed and the count at its start, so an MMIO access in the middle of it can make
    // the count exact (the index of the current instruction follows from RIP).
    private DecodedBlock? _running;
    private ulong _runningStart;

    /// <summary>The MMIO access that stopped the run: address, size and (for writes) value.</summary>
    public (ulong Address, int Size, ulong Value) MmioAccess { get; private set; }

    public string? FailureMessage { get; private set; }

    /// <summary>The local APIC and timers; null for a bare core (tests), which then takes no interrupts.</summary>
    public ICpuEvents? Events
    {
        get => _events;
        set
        {
            _events = value;
            RequestEventCheck();
        }
    }

    private ICpuEvents? _events;

    /// <summary>Registers the platform owns (LAPIC page, IOAPIC), handled without leaving the core.</summary>
    public IPlatformIo? PlatformIo { get; set; }

    public void Kick()
    {
        _kickRequested = true;
        _attention = true;
    }

    /// <summary>Consumes a waiting kick (a halted vCPU's wait ends on it).</summary>
    public bool TakeKick()
    {
        bool kicked = _kickRequested;
        _kickRequested = false;
        return kicked;
    }

    /// <summary>Makes the core look at its events and poll the timers at the next block boundary. Safe from any thread.</summary>
    public void RaiseAttention() => _attention = true;

    /// <summary>Polls the timers and looks at events at the next block boundary (the core's own thread).</summary>
    public void RequestEventCheck()
    {
        _nextEventCheck = 0;
        _attention = true;
    }

    /// <summary>After HLT the CPU stays halted until an interrupt, NMI or INIT wakes it (SDM vol 2 "HLT"). Set only by a state load.</summary>
    public bool Halted { get; internal set; }

    /// <summary>Interrupts are held off until the next instruction retires (after STI, MOV SS, POP SS).</summary>
    public bool InInterruptShadow
    {
        get => _retired < _shadowEnd;
        internal set => _shadowEnd = value ? _retired + 1 : 0;
    }

    /// <summary>
    /// An MMIO read the VMM has answered whose instruction has not run again yet (it runs with this value on the
    /// next <see cref="Run"/>); null when there is none. Part of the saved state: the device's side effects of
    /// the read have happened, so a restored CPU must not read again.
    /// </summary>
    public (ulong Address, int Size, ulong Value)? CompletedMmioRead
    {
        get => _mmioReadReady ? (_mmioReadAddress, _mmioReadSize, _mmioReadValue) : null;
        internal set
        {
            _mmioReadReady = value is not null;
            (_mmioReadAddress, _mmioReadSize, _mmioReadValue) = value ?? default;
        }
    }

    /// <summary>MMIO writes of retired instructions not yet handed to the VMM (one per exit), oldest first.</summary>
    public (ulong Address, int Size, ulong Value)[] PendingMmioWrites
    {
        get => [.. _mmioWrites];
        internal set
        {
            _mmioWrites.Clear();
            foreach (var write in value) _mmioWrites.Enqueue(write);
        }
    }

    /// <summary>
    /// Forgets everything cached from guest memory and registers (translations, decoded blocks) and looks at
    /// events at the next block boundary: after a state load nothing cached may be trusted.
    /// </summary>
    public void FlushCaches()
    {
        _blocks.Clear();
        _jumpCache.Clear();
        Mmu.FlushTlb();
        _nextEventCheck = 0;
        _attention = true;
    }

    /// <summary>Leaves the halt state, as an interrupt, NMI or INIT does.</summary>
    public void Wake() => Halted = false;

    /// <summary>Supplies the value of the MMIO read that stopped the run; the instruction is retried.</summary>
    public void CompleteMmioRead(ulong value)
    {
        _mmioReadValue = value;
        _mmioReadReady = true;
    }

    public CoreStop Run()
    {
        if (TakeMmioWrite()) return CoreStop.MmioWrite;
        DecodedBlock? previous = null;
        while (true)
        {
            if (_attention || _retired >= _nextEventCheck)
            {
                _chainSlot = 0;
                if (ServiceEvents() is { } eventStop) return eventStop;
                previous = null;
            }
            if (Halted) return CoreStop.Halt;
            if (_blocks.HasStalePages) _blocks.ApplyInvalidations();
            DecodedBlock block;
            try
            {
                block = NextBlock(previous);
            }
            catch (CpuException fault)
            {
                _chainSlot = 0;
                if (!DeliverFault(fault)) return CoreStop.Shutdown;
                continue;
            }
            previous = block;
            if (_translator is { } translator && translator.EntryFor(block) is var entry && entry != 0)
            {
                // The last translated block left at a same-page direct jump to this one: chain it, so next time it
                // jumps here itself. Nothing ran in between (events clear the slot), so RIP and mode are the jump's.
                if (_chainSlot != 0 && block.StartRip == _chainRip && _cpu.ExecutionMode == _chainMode)
                    translator.Chain(_chainSlot, _chainGeneration, block);
                _chainSlot = 0;
                if (RunTranslated(ref previous, entry, translator.Mode == TranslatorMode.Verify) is { } translatedStop) return translatedStop;
                continue;
            }
            _chainSlot = 0;
            if (_stats is { } stats)
            {
                stats.InterpretedBlocks++;
                stats.InterpretedInstructions += block.Ops.Length;
            }
            if (ExecuteBlock(block) is { } stop) return stop;
        }
    }
}
