using KvmSharp.Accelerators.Emulate.Cpu;

namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// One vCPU's tier-1 translator: counts how often each block runs, translates hot ones (<see cref="BlockCompiler"/>)
/// into its <see cref="CodeCache"/>, and says which code, if any, the run loop should enter for a block. Owned and
/// used by the vCPU's thread only.
/// </summary>
public sealed unsafe class Translator : IDisposable
{
    /// <summary>
    /// Runs of a block before it is translated under <see cref="TranslatorMode.On"/>. In the default guest's boot
    /// blocks run 16+ times cover 99.95% of instructions and 64+ times 99.84% (docs: software-cpu-speed.md §3).
    /// Measured on that boot (2026-12-03, a loaded 2-core host, one run each): threshold 1 13.1 s, 8 11.5–11.9 s,
    /// 32 10.9–11.1 s; translating everything costs more than it saves, and 32 was no worse than 8.
    /// </summary>
    public const int HotThreshold = 32;

    private readonly CpuState _cpu;
    private readonly BlockCompiler _compiler;
    private readonly CodeCache _cache;
    private readonly int _threshold;
    // The blocks translated in this cache generation, by CompiledBlock.Id.
    private readonly List<DecodedBlock> _translated = [];

    /// <summary>Translations by RIP for generated code's own lookups (returns, indirect and cross-page jumps); the run loop adds to it.</summary>
    public JumpTable JumpTable { get; } = new();

    public Translator(TranslatorMode mode, CpuState cpu, Mmu mmu, PhysicalMemory physical, int cacheSize = CodeCache.DefaultSize)
    {
        if (mode == TranslatorMode.Off) throw new ArgumentOutOfRangeException(nameof(mode));
        Mode = mode;
        _cpu = cpu;
        _compiler = new BlockCompiler(cpu, mmu, physical, JumpTable);
        _cache = new CodeCache(cacheSize);
        _threshold = mode == TranslatorMode.On ? HotThreshold : 1;
    }

    public TranslatorMode Mode { get; }

    /// <summary>Blocks translated, and how many of their instructions (a block is cut at its first instruction without a compiled form).</summary>
    public long BlocksTranslated { get; private set; }
    public long InstructionsTranslated { get; private set; }
    public long InstructionsInTranslatedBlocks { get; private set; }

    /// <summary>Blocks the compiler failed on (a bug; they stay interpreted), and the first failure.</summary>
    public long CompileFailures { get; private set; }
    public string? FirstCompileFailure { get; private set; }

    /// <summary>Times the cache filled up and was flushed.</summary>
    public int Flushes { get; private set; }

    /// <summary>
    /// The code to run for <paramref name="block"/> in the CPU's current mode, or 0 to interpret it (not hot yet,
    /// or no compiled form for its first instruction).
    /// </summary>
    public nint EntryFor(DecodedBlock block)
    {
        if (block.Translation is { } t && t.Generation == _cache.Generation && t.Mode == _cpu.ExecutionMode) return t.Entry;
        if (++block.Executions < _threshold) return 0;
        block.Executions = 0;
        block.Translation?.Revoke();   // made for another mode: chains into it must not run it in this one
        block.Translation = Translate(block);
        return block.Translation.Entry;
    }

    private CompiledBlock Translate(DecodedBlock block)
    {
        // Verify runs each translation once per entry and compares it with the interpreter: no looping inside, no
        // stores (the interpreter run that follows must see memory as the block found it).
        bool verify = Mode == TranslatorMode.Verify;
        if (_cache.Generation != _translatedGeneration)
        {
            _translated.Clear();
            _translatedGeneration = _cache.Generation;
        }
        int id = _translated.Count;
        byte[]? code;
        int length;
        BlockCompiler.CodeLayout layout;
        try
        {
            code = _compiler.Compile(block, id, selfLoop: !verify, withoutStores: verify, out length, out layout);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            // A translator bug must not stop the guest: the block stays interpreted, and the failure is counted
            // (the tests require none) with the first one kept.
            CompileFailures++;
            FirstCompileFailure ??= $"block at {block.StartRip:X}: {e.Message}";
            return new CompiledBlock { Entry = 0, Generation = _cache.Generation, Mode = _cpu.ExecutionMode, Length = 0 };
        }
        nint entry = 0;
        if (code is not null)
        {
            if (!_cache.TryReserve(code.Length, out entry))
            {
                _cache.Flush();
                JumpTable.Clear();   // its bodies are gone
                Flushes++;
                // Ids restart with the generation: compile again so the code names the right one.
                _translated.Clear();
                _translatedGeneration = _cache.Generation;
                id = 0;
                code = _compiler.Compile(block, id, selfLoop: !verify, withoutStores: verify, out length, out layout)!;
                if (!_cache.TryReserve(code.Length, out entry)) entry = 0;   // larger than the whole cache: stays interpreted
            }
            if (entry != 0)
            {
                // Each chain slot starts out pointing at its own miss stub.
                foreach (var (slot, miss) in layout.Slots)
                    System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(code.AsSpan(slot), entry + miss);
                _cache.Write(entry, code);
                PerfMap.Add(entry, code.Length, block.StartRip, length, block.Ops.Length, _cache.Generation);
                _translated.Add(block);
                BlocksTranslated++;
                InstructionsTranslated += length;
                InstructionsInTranslatedBlocks += block.Ops.Length;
            }
        }
        return new CompiledBlock
        {
            Entry = entry, Generation = _cache.Generation, Mode = _cpu.ExecutionMode, Length = length, CodeSize = code?.Length ?? 0,
            Id = entry == 0 ? -1 : id,
            Body = entry == 0 ? 0 : entry + layout.Body, RevokedExit = entry == 0 ? 0 : entry + layout.Revoked, Cache = _cache,
        };
    }

    private int _translatedGeneration;

    /// <summary>The block whose translation has <paramref name="id"/> in the current generation (the one that left at an instruction).</summary>
    public DecodedBlock BlockOf(int id) => _translated[id];

    /// <summary>The cache's generation now: a chain slot remembered in an older one no longer exists.</summary>
    public int Generation => _cache.Generation;

    /// <summary>
    /// Chains a slot (left by translated code at a same-page direct jump, in cache generation
    /// <paramref name="generation"/>) to <paramref name="target"/>'s code, which the run loop just found for the
    /// jump's RIP in the same mode; nothing when the cache was flushed since or the target has no code.
    /// </summary>
    public void Chain(nint slot, int generation, DecodedBlock target)
    {
        if (generation != _cache.Generation || target.Translation is not { Body: not 0 } t || t.Generation != generation || !target.Valid) return;
        Span<byte> address = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(address, t.Body);
        _cache.Write(slot, address);
        Chains++;
    }

    /// <summary>Times the run loop entered translated code (chained code going on by itself is not counted).</summary>
    public long Entries { get; internal set; }

    /// <summary>Slots chained.</summary>
    public long Chains { get; private set; }

    /// <summary>Runs translated code: a block boundary (<see cref="TranslatedExit.Boundary"/>) or the index of the instruction to interpret next.</summary>
    public static int Run(nint entry) => ((delegate* unmanaged<int>)entry)();

    public void Dispose()
    {
        _cache.Dispose();
        JumpTable.Dispose();
    }
}
