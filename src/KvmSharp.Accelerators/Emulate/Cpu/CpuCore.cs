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
public sealed unsafe class CpuCore : IMmioPort
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

    /// <summary>
    /// Runs one block until it ends, branches away or something needs the run loop; null means go on
    /// with the block at RIP. One exception handler per block keeps the per-instruction path short.
    /// </summary>
    /// <remarks>
    /// <paramref name="first"/>: the instruction to start at (translated code ran those before it, and counted none of
    /// them: the count is still the block's start). <paramref name="end"/>: stop before this one (--jit verify).
    /// </remarks>
    private CoreStop? ExecuteBlock(DecodedBlock block, int first = 0, int end = int.MaxValue)
    {
        var instructions = block.Instructions;
        var ops = block.Ops;
        ulong start = _retired;
        _running = block;
        _runningStart = start;
        int n = first;
        int stopAt = Math.Min(end, ops.Length);
        try
        {
            for (; n < stopAt; n++)
            {
                ref readonly var op = ref ops[n];
                if (op.Kind != MicroKind.Generic)
                {
                    // Fast forms continue at the next instruction unless they branch (a branch ends its
                    // block); only one that wrote memory can need the run loop. They do not count one by
                    // one: nothing they do reads the count except MMIO (see SyncRetired).
                    if (op.SavesFlags) _flagsBefore.CopyFrom(in _cpu.Flags);
                    Executor.StepFast(in op);
                    if (op.AccessesMemory && (_mmioWrites.Count != 0 || _blocks.HasStalePages))
                    {
                        _retired = start + (ulong)n + 1;
                        if (EndsBlockAfterWrite(block, out var stopAfterStore)) return Leave(stopAfterStore);
                    }
                    continue;
                }
                // The flags as they were before the instruction: a fault or an MMIO read restarts it, and an
                // instruction that recorded flags before its memory write faulted must not see its own.
                // Copied field by field: a whole-struct copy of just-written fields stalls store forwarding.
                _flagsBefore.CopyFrom(in _cpu.Flags);
                ref readonly var instruction = ref instructions[n];
                if (instruction.IsInvalid) throw CpuException.InvalidOpcode();
                _retired = start + (ulong)n;   // exact for what the instruction reads (RDTSC under --icount)
                var result = Executor.Step(in instruction);
                _retired = start + (ulong)n + 1;
                if (result != StepResult.Continue)
                {
                    _running = null;
                    if (TakeMmioWrite()) return CoreStop.MmioWrite;
                    if (result == StepResult.PortIo) return CoreStop.PortIo;
                    if (result == StepResult.Halt)
                    {
                        Halted = true;
                        return CoreStop.Halt;
                    }
                    // EndBlock; after STI (that set IF), MOV SS or POP SS, interrupts wait one more instruction.
                    if (Executor.TakeInterruptShadow()) _shadowEnd = _retired + 1;
                    return null;
                }
                if ((_mmioWrites.Count != 0 || _blocks.HasStalePages) && EndsBlockAfterWrite(block, out var stop)) return Leave(stop);
                if (n + 1 == ops.Length || _cpu.Rip != instructions[n + 1].IP) return Leave(null);
            }
            _retired = start + (ulong)n;
            _running = null;
            return null;
        }
        catch (CpuException fault)
        {
            Abandon(start, n);
            if (ops[n].Kind == MicroKind.Generic || ops[n].SavesFlags) _cpu.Flags.CopyFrom(in _flagsBefore);
            return DeliverFault(fault) ? null : CoreStop.Shutdown;
        }
        catch (SoftwareInterrupt interrupt)
        {
            Abandon(start, n);
            try
            {
                Executor.DeliverInterrupt(interrupt.Vector, interrupt.ReturnRip, null, software: true);
                return null;
            }
            catch (CpuException fault)
            {
                return DeliverFault(fault) ? null : CoreStop.Shutdown;
            }
        }
        catch (LockedWriteConflict)
        {
            Abandon(start, n);
            _cpu.Flags.CopyFrom(in _flagsBefore);   // another vCPU stored in between: run the locked instruction again
            return null;
        }
        catch (MmioReadPending)
        {
            Abandon(start, n);
            if (ops[n].Kind == MicroKind.Generic || ops[n].SavesFlags) _cpu.Flags.CopyFrom(in _flagsBefore);
            return CoreStop.MmioRead;   // RIP still names the instruction: it runs again with the value
        }
    }

    /// <summary>
    /// Runs a block's translation: it works on the same state in place and counts its instructions in the hot state;
    /// at a block boundary the run loop goes on, else the interpreter takes the block over at the instruction the
    /// code stopped before (a slow path, a possible fault, a form without translation) with the state exactly that
    /// before it.
    /// </summary>
    /// <remarks>
    /// <paramref name="block"/> is the block entered; on return, the one that ran last (chained code goes on through
    /// others), whose links the next lookup starts from.
    /// </remarks>
    private CoreStop? RunTranslated(ref DecodedBlock block, nint entry, bool verify)
    {
        var hot = _cpu.Hot;
        if (verify) return RunVerified(block, entry);
        hot->Retired = _retired;
        hot->NextEventCheck = _nextEventCheck;
        hot->ChainSlot = 0;
        var translator = _translator!;
        // Generated code goes on through the jump table only in the context it was entered in; the block entered is
        // added, so others can go on into it.
        if (_cpu.Segments[CpuState.Cs].Base == 0)
        {
            hot->Context = JumpTable.Context(Mmu.TranslationEpoch, _cpu.ExecutionMode);
            translator.JumpTable.Add(block.StartRip, hot->Context, block.Translation!.Body);
        }
        else hot->Context = JumpTable.NoContext;
        translator.Entries++;
        int exit = Translator.Run(entry);
        _retired = hot->Retired;
        block = translator.BlockOf(hot->ExitBlock);
        if (_stats is { } stats)
        {
            stats.TranslatedEntries++;
            if (exit >= 0)
            {
                stats.Exit(block.Instructions[exit].Mnemonic, compiled: exit < block.Translation!.Length);
                stats.InterpretedInstructions += block.Ops.Length - exit;
            }
        }
        if (exit < 0)
        {
            if (hot->ChainSlot != 0)
            {
                _chainSlot = hot->ChainSlot;
                _chainGeneration = translator.Generation;
                _chainRip = _cpu.Rip;
                _chainMode = _cpu.ExecutionMode;
            }
            return null;
        }
        return ExecuteBlock(block, exit);
    }

    /// <summary>
    /// --jit verify: the translation runs first (its translations never store to memory in this mode), then the state
    /// before it is put back and the interpreter runs the same instructions; registers, RIP and the six flags must
    /// agree. A mismatch stops the CPU (<see cref="CoreStop.Failed"/>) with the block and the difference named.
    /// </summary>
    private CoreStop? RunVerified(DecodedBlock block, nint entry)
    {
        var hot = _cpu.Hot;
        Span<ulong> before = stackalloc ulong[16], translated = stackalloc ulong[16];
        _cpu.Gpr.CopyTo(before);
        ulong ripBefore = _cpu.Rip;
        var flagsBefore = _cpu.Flags;
        ulong start = _retired;
        hot->Retired = _retired;
        hot->NextEventCheck = _nextEventCheck;
        int exit = Translator.Run(entry);
        _cpu.Gpr.CopyTo(translated);
        ulong ripTranslated = _cpu.Rip, flagsTranslated = _cpu.Flags.ToBits();
        int end = exit < 0 ? block.Ops.Length : exit;
        ulong retiredTranslated = hot->Retired;

        before.CopyTo(_cpu.Gpr);
        _cpu.Rip = ripBefore;
        _cpu.Flags.CopyFrom(in flagsBefore);
        var stop = ExecuteBlock(block, 0, end);
        string? difference = null;
        if (stop is not null || _retired != start + (ulong)end)
            difference = $"the interpreter stopped ({stop?.ToString() ?? "fault or exit"}) after {_retired - start} of {end} instructions";
        else if (exit < 0 && retiredTranslated != start + (ulong)end)
            difference = $"count {retiredTranslated - start}, interpreter {end}";
        else if (_cpu.Rip != ripTranslated) difference = $"RIP {ripTranslated:X}, interpreter {_cpu.Rip:X}";
        else if (_cpu.Flags.ToBits() != flagsTranslated) difference = $"flags {flagsTranslated:X}, interpreter {_cpu.Flags.ToBits():X}";
        else
        {
            for (int r = 0; r < 16; r++)
                if (_cpu.Gpr[r] != translated[r]) { difference = $"register {r} = {translated[r]:X}, interpreter {_cpu.Gpr[r]:X}"; break; }
        }
        if (difference is not null)
        {
            FailureMessage = $"translator mismatch in the block at RIP {block.StartRip:X} (physical {block.PhysicalStart:X}, {end} instructions: {string.Join("; ", block.Instructions.Take(end))}): {difference}";
            return CoreStop.Failed;
        }
        if (exit < 0) return null;
        _retired = start;   // the rest of the block from instruction `exit`, counted from the block's start
        return ExecuteBlock(block, exit);
    }

    /// <summary>Leaves a block whose count is already exact.</summary>
    private CoreStop? Leave(CoreStop? stop)
    {
        _running = null;
        return stop;
    }

    /// <summary>Leaves a block at instruction <paramref name="n"/>, which did not retire (a fault, an interrupt instruction, a retry).</summary>
    private void Abandon(ulong start, int n)
    {
        _retired = start + (ulong)n;
        _running = null;
    }

    /// <summary>
    /// Makes <see cref="InstructionsRetired"/> exact in the middle of a block (an MMIO access: the LAPIC timer
    /// and the VMM may read the clock): the instructions before the one at RIP have retired.
    /// </summary>
    private void SyncRetired()
    {
        if (_running is not { } block) return;
        var instructions = block.Instructions;
        ulong rip = _cpu.Rip;
        for (int i = 0; i < instructions.Length; i++)
        {
            if (instructions[i].IP == rip)
            {
                _retired = _runningStart + (ulong)i;
                return;
            }
        }
    }

    /// <summary>
    /// After an instruction that wrote memory: an MMIO write leaves as an exit, and a write to a page with
    /// decoded code drops its blocks (this one too, perhaps: then the block ends and RIP is fetched anew).
    /// </summary>
    private bool EndsBlockAfterWrite(DecodedBlock block, out CoreStop? stop)
    {
        stop = null;
        if (TakeMmioWrite())
        {
            stop = CoreStop.MmioWrite;
            return true;
        }
        if (_blocks.HasStalePages) _blocks.ApplyInvalidations();
        return !block.Valid;
    }

    /// <summary>
    /// The event check at a block boundary: a kick ends the run; due timers are polled; INIT stops the
    /// core for the vCPU to reset it; NMI, or with IF set and no STI shadow the highest-priority
    /// interrupt, is delivered through the IDT as an external event (no DPL check, no error code; SDM
    /// vol 3 §6.8.1, §6.12.1.1).
    /// </summary>
    private CoreStop? ServiceEvents()
    {
        _attention = false;
        if (_kickRequested)
        {
            _kickRequested = false;
            return CoreStop.Kicked;
        }
        if (_events is not { } events)
        {
            _nextEventCheck = ulong.MaxValue;
            return null;
        }
        if (_retired >= _nextEventCheck) _nextEventCheck = _retired + events.PollTimers();
        bool interruptible = _cpu.Interruptible && _retired >= _shadowEnd;
        if (interruptible || events.UrgentPending)
        {
            switch (events.Take(interruptible, _cpu.NmiBlocked, out byte vector))
            {
                case CpuEvent.Init:
                    Halted = false;
                    return CoreStop.Init;
                case CpuEvent.Nmi:
                    Halted = false;
                    _cpu.NmiBlocked = true;
                    return Deliver(vector, _cpu.Rip, null, 0) ? null : CoreStop.Shutdown;
                case CpuEvent.Interrupt:
                    Halted = false;
                    return Deliver(vector, _cpu.Rip, null, 0) ? null : CoreStop.Shutdown;
            }
        }
        if (!interruptible && events.MayHaveInterrupt) _attention = true;   // look again once IF allows
        return null;
    }

    /// <summary>Moves the oldest queued MMIO write into <see cref="MmioAccess"/> for an exit.</summary>
    private bool TakeMmioWrite()
    {
        if (!_mmioWrites.TryDequeue(out var write)) return false;
        MmioAccess = write;
        return true;
    }

    private bool DeliverFault(CpuException fault) =>
        Deliver(fault.Vector, _cpu.Rip, ExceptionVector.HasErrorCode(fault.Vector) ? fault.ErrorCode : null, fault.FaultAddress);

    /// <summary>Delivers a fault; a fault while delivering one becomes #DF, and a fault during #DF shuts the CPU down (SDM §6.15, vector 8).</summary>
    private bool Deliver(byte vector, ulong returnRip, uint? errorCode, ulong faultAddress)
    {
        if (vector == ExceptionVector.PageFault) _cpu.Cr2 = faultAddress;
        for (int attempt = 0; attempt < 3; attempt++)
        {
            try
            {
                Executor.DeliverInterrupt(vector, returnRip, errorCode, software: false);
                return true;
            }
            catch (CpuException nested)
            {
                if (vector == ExceptionVector.DoubleFault || attempt == 2) return false;
                if (nested.Vector == ExceptionVector.PageFault) _cpu.Cr2 = nested.FaultAddress;
                vector = ExceptionVector.DoubleFault;
                errorCode = 0;
            }
        }
        return false;
    }

    /// <summary>
    /// The block at CS:RIP: one of <paramref name="previous"/>'s two links when it matches, else the jump
    /// cache (by virtual RIP), else a translation and <see cref="BlockCache.Find"/> (or a decode); the
    /// block found is linked from <paramref name="previous"/> for next time.
    /// </summary>
    private DecodedBlock NextBlock(DecodedBlock? previous)
    {
        ulong rip = _cpu.Rip, csBase = _cpu.Segments[CpuState.Cs].Base;
        uint epoch = Mmu.TranslationEpoch;
        int mode = _cpu.ExecutionMode;
        if (previous is not null)
        {
            if (previous.Link0.Matches(rip, csBase, epoch, mode)) return previous.Link0.Target!;
            if (previous.Link1.Matches(rip, csBase, epoch, mode)) return previous.Link1.Target!;
        }
        var block = _jumpCache.Find(rip, csBase, epoch, mode);
        if (block is null)
        {
            block = FetchBlock();
            _jumpCache.Add(block, rip, csBase, epoch, mode);
        }
        if (previous is not null)
        {
            // Slot 0 keeps the first successor seen; slot 1 takes the others (the second branch direction).
            var link = new BlockLink { Target = block, Rip = rip, CsBase = csBase, Epoch = epoch, Mode = mode };
            if (previous.Link0.Target is null || previous.Link0.Rip == rip) previous.Link0 = link;
            else previous.Link1 = link;
        }
        return block;
    }

    /// <summary>The block at CS:RIP, decoded on first use.</summary>
    private DecodedBlock FetchBlock()
    {
        ulong rip = _cpu.Rip;
        ulong linear = (_cpu.Segments[CpuState.Cs].Base + rip) & _cpu.LinearMask;
        ulong physical = Mmu.Translate(linear, AccessKind.Execute);
        int bitness = _cpu.CodeSize * 8;
        var block = _blocks.Find(physical, rip, bitness);
        if (block is not null) return block;

        int inPage = (int)(0x1000 - (linear & 0xFFF));
        if (!ReadCode(physical, _fetchBuffer.AsSpan(0, inPage)))
            throw new CpuException(ExceptionVector.GeneralProtection);   // executing from MMIO is not supported
        ulong? nextPhysical = null;
        int total = inPage;
        try
        {
            ulong next = Mmu.Translate(linear + (ulong)inPage, AccessKind.Execute);
            if (ReadCode(next, _fetchBuffer.AsSpan(inPage, 15))) { nextPhysical = next; total += 15; }
        }
        catch (CpuException) when (inPage < 15 && IsCutOff(_fetchBuffer.AsSpan(0, inPage), rip, bitness))
        {
            // The instruction at RIP runs on into a page that is not mapped: fetching it faults on that page (SDM vol 3
            // §6.15, #PF on an instruction fetch, CR2 the address in the next page), as Linux's demand paging expects.
            throw;
        }
        catch (CpuException)
        {
            // The next page is not mapped: a later instruction that needs it starts a block of its own, and faults there.
        }
        return _blocks.Decode(_fetchBuffer.AsSpan(0, total), inPage, rip, physical, nextPhysical, bitness);
    }

    /// <summary>True when the instruction at the start of <paramref name="bytes"/> needs more bytes than there are.</summary>
    private static bool IsCutOff(ReadOnlySpan<byte> bytes, ulong rip, int bitness)
    {
        var decoder = Iced.Intel.Decoder.Create(bitness, new Iced.Intel.ByteArrayCodeReader(bytes.ToArray()), rip);
        decoder.Decode(out _);
        return decoder.LastError == Iced.Intel.DecoderError.NoMoreBytes;
    }

    private unsafe bool ReadCode(ulong physical, Span<byte> destination)
    {
        byte* source = _physical.HostPointer(physical, destination.Length);
        if (source == null) return false;
        new ReadOnlySpan<byte>(source, destination.Length).CopyTo(destination);
        return true;
    }

    ulong IMmioPort.Read(ulong physical, int size)
    {
        SyncRetired();
        if (PlatformIo is { } platform && platform.TryReadMmio(physical, size, out ulong owned)) return owned;
        if (_mmioReadReady && _mmioReadAddress == physical && _mmioReadSize == size)
        {
            _mmioReadReady = false;
            return _mmioReadValue;
        }
        _mmioReadReady = false;
        _mmioReadAddress = physical;
        _mmioReadSize = size;
        MmioAccess = (physical, size, 0);
        throw MmioReadPending.Instance;
    }

    void IMmioPort.Write(ulong physical, int size, ulong value)
    {
        SyncRetired();
        if (PlatformIo is { } platform && platform.TryWriteMmio(physical, size, value))
        {
            RequestEventCheck();   // an EOI, TPR, ICR or timer write: priorities or deadlines may have changed
            return;
        }
        _mmioWrites.Enqueue((physical, size, value));
    }
}
