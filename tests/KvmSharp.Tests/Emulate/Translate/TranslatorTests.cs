using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Translate;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Translate;

/// <summary>
/// The block translator against the interpreter: each program runs with <c>--jit off</c> (the reference),
/// <c>always</c> (every block translated on first use) and <c>on</c> (hot blocks), and everything visible must be
/// the same — registers, RIP, flags, memory, CR2, the stop reason and the exact instruction count — while the
/// translator must really have run code (so a translator that quietly translated nothing fails).
/// </summary>
public class TranslatorTests
{
    private static readonly TranslatorMode[] Modes = [TranslatorMode.Off, TranslatorMode.Always, TranslatorMode.On, TranslatorMode.Verify];

    public sealed record Outcome(TranslatorMode Mode, CoreStop Stop, ulong[] Gprs, ulong Rip, ulong Rflags, ulong Retired, ulong Cr2,
        byte[] Data, long InstructionsTranslated, long InstructionsInTranslatedBlocks, string? Failure, int Ticks);

    /// <summary>Runs the program in every mode and checks each outcome against the interpreter's; returns them (Off first).</summary>
    internal static Outcome[] RunAll(Action<LongModeRig> setup, ulong dataAddress = LongModeRig.Data, int dataLength = 256, Func<LongModeRig, ICpuEvents?>? events = null)
    {
        var outcomes = new List<Outcome>();
        foreach (var mode in Modes)
        {
            using var rig = new LongModeRig(mode);
            setup(rig);
            var tick = events?.Invoke(rig);
            if (tick is not null) rig.Core.Events = tick;
            var stop = rig.Core.Run();
            Assert.True(rig.Core.Translator is not { CompileFailures: > 0 }, rig.Core.Translator?.FirstCompileFailure);
            var data = new byte[dataLength];
            rig.Memory.Read(new GuestAddress(dataAddress), data);
            outcomes.Add(new Outcome(mode, stop, [.. rig.Cpu.Gpr], rig.Cpu.Rip, rig.Cpu.Rflags, rig.Core.InstructionsRetired, rig.Cpu.Cr2, data,
                rig.Core.Translator?.InstructionsTranslated ?? 0, rig.Core.Translator?.InstructionsInTranslatedBlocks ?? 0, rig.Core.FailureMessage, (tick as TickEvents)?.Delivered ?? 0));
        }
        var reference = outcomes[0];
        foreach (var o in outcomes.Skip(1))
        {
            Assert.True(o.Failure is null, $"{o.Mode}: {o.Failure}");
            Assert.True(reference.Retired == o.Retired && reference.Rip == o.Rip,
                $"{o.Mode}: stopped at {o.Rip:X} after {o.Retired} instructions ({o.Stop}); the interpreter at {reference.Rip:X} after {reference.Retired} ({reference.Stop})");
            Assert.Equal(reference.Stop, o.Stop);
            Assert.Equal(reference.Rip, o.Rip);
            Assert.Equal(reference.Gprs, o.Gprs);
            Assert.Equal(reference.Rflags, o.Rflags);
            Assert.Equal(reference.Retired, o.Retired);
            Assert.Equal(reference.Cr2, o.Cr2);
            Assert.Equal(reference.Data, o.Data);
            Assert.Equal(reference.Ticks, o.Ticks);
        }
        Assert.True(outcomes[1].InstructionsTranslated > 0, "--jit always translated nothing");
        return [.. outcomes];
    }

    [Fact]
    public void HotRegisterLoopInProtectedModeGivesTheInterpretersStateAndCount()
    {
        // The benchmark's loop (bench/cpu-emulate.sh): 13 instructions per iteration, a block that branches to itself.
        const int iterations = 5000;
        var results = new List<(ulong Eax, ulong Edi, ulong Retired, long Translated)>();
        foreach (var mode in Modes)
        {
            using var memory = GuestMemory.Create(2 << 20);
            var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, 0x8000, translator: mode);
            var program = new Assembler(32);
            var loop = program.CreateLabel();
            program.mov(eax, 0x12345678);
            program.mov(edi, 0);
            program.mov(ecx, iterations);
            program.Label(ref loop);
            program.mov(edx, eax); program.shl(edx, 13); program.xor(eax, edx);
            program.mov(edx, eax); program.shr(edx, 17); program.xor(eax, edx);
            program.mov(edx, eax); program.shl(edx, 5); program.xor(eax, edx);
            program.imul(edi, edi, 31); program.add(edi, eax);
            program.dec(ecx);
            program.jnz(loop);
            program.hlt();
            BareCpu.Write(memory, 0x8000, program);
            Assert.Equal(CoreStop.Halt, core.Run());
            results.Add((cpu.Gpr[CpuState.Rax], cpu.Gpr[CpuState.Rdi], core.InstructionsRetired, core.Translator?.InstructionsTranslated ?? 0));
        }
        // The interpreter's result, computed here too.
        uint x = 0x12345678, sum = 0;
        for (int i = 0; i < iterations; i++)
        {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            sum = sum * 31 + x;
        }
        foreach (var r in results)
        {
            Assert.Equal(x, r.Eax);
            Assert.Equal(sum, r.Edi);
            Assert.Equal(3UL + 13UL * iterations + 1, r.Retired);   // HLT retires too
        }
        Assert.True(results[1].Translated >= 13 && results[2].Translated >= 13, "the loop was not translated");
    }

    [Fact]
    public void RegisterFormsOfEverySizeAgreeWithTheInterpreter()
    {
        // Narrow and high-byte registers, zero/sign extension, SETcc/CMOVcc after each kind of producer, shifts of each
        // width, IMUL with and without overflow, ADC/SBB after ADD/SUB, 32-bit LEA wrap; 64 iterations of varying values.
        var outcomes = RunAll(rig =>
        {
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            var ok1 = p.CreateLabel();
            p.mov(rax, 0x8000_0000_7FFF_FFF0UL);
            p.mov(rbx, 0x0123_4567_89AB_CDEFUL);
            p.mov(r8, 0xFFFF_FFFF_FFFF_FF80UL);
            p.mov(r15, 0);
            p.mov(ecx, 64);
            p.Label(ref loop);
            p.add(al, bl); p.setc(dl); p.movzx(edx, dl); p.add(r15, rdx);
            p.sub(ah, bh); p.sets(dh); p.adc(r15w, dx);
            p.xor(bx, ax); p.cmovs(esi, ebx); p.add(r15, rsi);
            p.add(eax, 0x7FFF_FFF3); p.seto(dl); p.cmovo(r9, rax); p.add(r15, r9);
            p.sub(rbx, rax); p.sbb(r15d, 7); p.cmovb(r10d, r15d);
            p.imul(r11, rbx, 0x1234567); p.seto(dil); p.add(r15, r11);
            p.imul(r12w, ax); p.imul(r13d, ebx, -3);
            p.movsx(r14, bl); p.movsx(edx, ax); p.movsxd(rsi, ebx); p.movzx(rdi, bx);
            p.shl(ax, 3); p.setc(dl); p.shr(bl, 5); p.sar(r8d, 7); p.setb(dh); p.sar(r8, 33); p.shl(rbx, 63); p.shr(r14d, 31);
            p.lea(edx, __[rax + rbx * 4 + 0x7FFF_FFFF]); p.add(r15, rdx); p.lea(esi, __[eax + ebx * 2 + 0x10]); p.add(r15, rsi);
            p.inc(r8b); p.sete(dl); p.dec(r9w); p.setl(dh); p.inc(r10); p.cmovg(r11, r10);
            p.test(r8, rbx); p.setp(dl); p.cmp(r15d, eax); p.setae(dh); p.seta(bh); p.cmovbe(r12, r15);
            p.add(rax, r15); p.xor(rbx, r13);
            p.not(r9d); p.neg(r10w); p.neg(r11); p.bswap(r12d); p.bswap(r13); p.add(r15, r12); p.add(r15, r13);
            p.push(rcx); p.mov(rdx, rax); p.and(ecx, 0x47);   // CL: 0–7 and 64–71, masked to 0–7 or 0–31/63 by the CPU
            p.shl(r14, cl); p.shr(r8w, cl); p.sar(r9b, cl); p.sar(r10d, cl); p.add(r15, r14);
            p.pop(rcx);
            p.cdqe(); p.cdq(); p.add(r15, rdx); p.cqo(); p.add(r15, rdx); p.mov(rax, rdx);
            p.add(r12, r15); p.rol(r12, 13); p.setc(dl); p.ror(r13d, 7); p.seto(dh); p.jo(ok1); p.inc(r15); p.Label(ref ok1);
            p.test(bl, al); p.rol(bl, 3); p.setp(dl); p.inc(ax); p.ror(ax, 9); p.sete(dh); p.imul(r8, r9); p.rol(r14b, 8); p.ror(r9w, 16);
            p.shl(r10d, 3); p.rol(r10d, 1); p.sets(dl); p.add(r15, r10); p.add(r15, r14); p.add(r15, r9); p.add(r15, rdx);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        });
        // Every one of these forms has a translation: under --jit always no block was cut short.
        Assert.Equal(outcomes[1].InstructionsInTranslatedBlocks, outcomes[1].InstructionsTranslated);
    }

    [Fact]
    public void FaultOnTheKthInstructionOfATranslatedBlockSeesTheFlagsOfTheOneBefore()
    {
        // A hot loop that stores one qword further each time until it runs into a page that is not present: the #PF
        // comes from the 4th instruction of a translated block, after ADD/CMP/INC produced flags; the handler (HLT)
        // finds RIP and RFLAGS of that instruction in its frame.
        const ulong page = LongModeRig.SmallPages + 0x5000;
        var outcomes = RunAll(rig =>
        {
            rig.SetSmallPage(page, present: false);
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            p.mov(rdi, page - 8 * 40);
            p.mov(rax, 1);
            p.mov(rbx, 0xFFFF_FFFF_FFFF_FFF0UL);
            p.mov(ecx, 1000);
            p.Label(ref loop);
            p.add(rax, rbx);
            p.cmp(rcx, rax);
            p.inc(rsi);
            p.mov(__qword_ptr[rdi], rax);
            p.add(rdi, 8);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        }, dataAddress: page - 8 * 40, dataLength: 8 * 40);
        var reference = outcomes[0];
        Assert.Equal(LongModeRig.Handlers + 14 + 1, reference.Rip);   // #PF handler's HLT
        Assert.Equal(page, reference.Cr2);
        Assert.Equal(41UL, reference.Gprs[CpuState.Rsi]);   // the 41st iteration faulted after its INC
        Assert.True(outcomes[2].InstructionsTranslated > 0, "the hot loop was not translated under --jit on");
    }

    [Fact]
    public void FlagsProducedInOneBlockAreReadInTheNext()
    {
        RunAll(rig =>
        {
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            var next = p.CreateLabel();
            var skip = p.CreateLabel();
            var after = p.CreateLabel();
            p.mov(rax, 0x10);
            p.mov(rbx, 0x7);
            p.mov(ecx, 100);
            p.Label(ref loop);
            p.add(rbx, 0x3);
            p.cmp(rax, rbx);
            p.jmp(next);
            p.Label(ref next);
            p.setb(dl);                 // reads the CMP of the previous block
            p.adc(r9, 0);               // so does ADC
            p.cmovae(r10, rbx);
            p.jb(skip);
            p.add(r11, 1);
            p.Label(ref skip);
            p.rol(rax, 3);              // explicit flag bits, then read in the next block
            p.jmp(after);
            p.Label(ref after);
            p.ror(rax, 5);              // merges with the previous block's explicit bits
            p.seto(dl);
            p.adc(r12, 0);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        });
    }

    [Fact]
    public void MemoryOperandsIncludingPageCrossingOnesAgree()
    {
        // Loads, stores and read-modify-writes of 1–8 bytes at offsets that walk over a page boundary (the slow path),
        // and plain ones inside a page (the inline TLB probe).
        const ulong boundary = LongModeRig.Data + 0x1000;
        RunAll(rig =>
        {
            rig.Cpu.Segments.SetBase(CpuState.Fs, 0x10);
            rig.Cpu.Segments.SetBase(CpuState.Gs, unchecked((ulong)-0x20));
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            p.mov(rdi, boundary - 12);
            p.mov(rax, 0x1122_3344_5566_7788UL);
            p.mov(ecx, 24);
            p.Label(ref loop);
            p.mov(__qword_ptr[rdi], rax);
            p.add(__dword_ptr[rdi + 1], eax);
            p.mov(rbx, __qword_ptr[rdi - 3]);
            p.movzx(edx, __word_ptr[rdi + 7]);
            p.movsx(rsi, __byte_ptr[rdi + 2]);
            p.xor(__word_ptr[rdi + 5], dx);
            p.inc(__byte_ptr[rdi + 3]);
            p.shl(__dword_ptr[rdi + 2], 3);
            p.cmp(__qword_ptr[rdi - 8], rbx);
            p.sete(__byte_ptr[rdi - 9]);
            p.imul(r8, __qword_ptr[rdi]);
            p.push(rcx); p.and(ecx, 3);              // counts 0–3, zero included
            p.shr(__word_ptr[rdi + 4], cl); p.sar(__byte_ptr[rdi + 6], cl); p.shl(__qword_ptr[rdi - 6], cl);
            p.pop(rcx);
            p.mov(r9, __qword_ptr.fs[rdi - 0x10]);    // FS base 0x10: the same bytes
            p.add(__dword_ptr.gs[rdi + 0x10], r9d);   // GS base -0x20
            p.add(rax, rbx);
            p.rol(rax, 7);              // not translated: the rest of the block is interpreted
            p.add(rdi, 1);
            p.dec(ecx);
            p.jnz(loop);
            p.push(rax);
            p.pop(r12);
            p.hlt();
            rig.Load(p);
        }, dataAddress: boundary - 64, dataLength: 128);
    }

    [Theory]
    [InlineData(TranslatorMode.Off)]
    [InlineData(TranslatorMode.Always)]
    [InlineData(TranslatorMode.Verify)]
    public void ProtectedModeMemoryOperandsAddTheSegmentBase(TranslatorMode mode)
    {
        // 32-bit code, paging off, DS based at 0x20000 and SS flat: a sum over a table read through DS and written back
        // through SS; the expected memory is computed here.
        using var memory = GuestMemory.Create(2 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out var cpu, 0x8000, translator: mode);
        var data = cpu.Segments[CpuState.Ds];
        data.Base = 0x20000;
        cpu.Segments.Set(CpuState.Ds, data);
        for (uint n = 0; n < 64; n++) memory.Write(new GuestAddress(0x20000 + 0x100 + n * 4), n * 3 + 1);
        var program = new Assembler(32);
        var loop = program.CreateLabel();
        program.xor(eax, eax);
        program.mov(ecx, 64);
        program.Label(ref loop);
        program.add(eax, __dword_ptr[ecx * 4 + 0xFC]);                    // DS: 0x20000 + 0x100 + (ecx-1)*4
        program.mov(__dword_ptr.ss[ecx * 4 + 0x30000 - 4], eax);         // SS: flat
        program.dec(ecx);
        program.jnz(loop);
        program.hlt();
        BareCpu.Write(memory, 0x8000, program);
        Assert.Equal(CoreStop.Halt, core.Run());
        uint sum = 0;
        Span<byte> stored = stackalloc byte[4];
        for (uint n = 64; n >= 1; n--)
        {
            sum += (n - 1) * 3 + 1;
            memory.Read(new GuestAddress(0x30000 + (n - 1) * 4), stored);
            Assert.Equal(sum, BitConverter.ToUInt32(stored));
        }
        Assert.Equal(sum, cpu.Gpr[CpuState.Rax]);
        Assert.Equal(2UL + 4 * 64 + 1, core.InstructionsRetired);
        if (mode != TranslatorMode.Off) Assert.True(core.Translator!.InstructionsTranslated >= 4);
    }

    [Fact]
    public void AStoreIntoTheRunningBlockTakesEffectOnTheNextIteration()
    {
        // Each iteration rewrites the immediate of the block's own MOV EAX, imm32 (self-modifying code, the block's
        // own page): the next iteration must run the new instruction.
        const int iterations = 60;
        var outcomes = RunAll(rig =>
        {
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            p.mov(ecx, iterations);
            p.xor(ebx, ebx);
            p.Label(ref loop);
            p.mov(eax, 0);              // B8 imm32: the immediate is patched below
            p.add(rbx, rax);
            p.lea(rdx, __[loop]);
            p.mov(__dword_ptr[rdx + 1], ecx);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        });
        // Iteration with ECX = c runs the immediate written by the one before (c + 1): 0 first, then 60, 59, …, 2.
        ulong expected = 0;
        for (int c = iterations - 1; c >= 1; c--) expected += (ulong)(c + 1);
        Assert.Equal(expected, outcomes[0].Gprs[CpuState.Rbx]);
    }

    [Fact]
    public void AChainIntoABlockWhoseCodeWasWrittenLeadsToTheNewCode()
    {
        // B (page P0) jumps to A, which starts in P0 and ends with a MOV EAX, imm32 whose last two bytes are in P1; C
        // (in P1) rewrites those two bytes and jumps back to B. B's chained jump into A must not reach A's old code:
        // A's translation is revoked when C's write drops A, and B itself stays valid (P0 is not written).
        const ulong b = LongModeRig.Code + 0x100, a = LongModeRig.Code + 0xFFA, c = LongModeRig.Code + 0x1002;
        RunAll(rig =>
        {
            var pb = new Assembler(64);
            var start = pb.CreateLabel();
            pb.Label(ref start);
            pb.dec(ecx);
            pb.jnz(a);
            pb.hlt();
            rig.Load(pb, b);
            var pa = new Assembler(64);
            pa.add(rbx, rax);            // 3 bytes: 0xFFA–0xFFC
            pa.mov(eax, 0x1234_5678);    // 5 bytes: 0xFFD–0x1001, crossing into P1
            rig.Load(pa, a);
            var pc = new Assembler(64);
            pc.mov(__word_ptr[(long)(LongModeRig.Code + 0x1000)], cx);   // the immediate's upper half
            pc.jmp(b);
            rig.Load(pc, c);
            var entry = new Assembler(64);
            entry.mov(ecx, 100);
            entry.xor(ebx, ebx);
            entry.xor(eax, eax);
            entry.jmp(b);
            rig.Load(entry);
        });
    }

    [Fact]
    public void TimerInterruptsInsideAHotLoopArriveAtTheSameInstruction()
    {
        // A register-only loop that the translator runs in place; a timer poll is due every 997 instructions and
        // each poll after the first raises an interrupt whose handler counts. The translated loop must leave at the
        // same instruction count the interpreter checks at, so the ticks land at the same places.
        var outcomes = RunAll(rig =>
        {
            rig.Cpu.Rflags = 0x202;   // IF
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            p.mov(ecx, 20000);
            p.mov(rax, 3);
            p.Label(ref loop);
            p.imul(rax, rax, 5);
            p.add(rax, rcx);
            p.xor(rdx, rax);
            p.add(rdx, __qword_ptr[(long)LongModeRig.TickCounter]);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        }, dataAddress: LongModeRig.TickCounter, dataLength: 8, events: _ => new TickEvents(997));
        Assert.True(outcomes[0].Ticks > 50, $"only {outcomes[0].Ticks} timer interrupts");
        Assert.Equal((ulong)outcomes[0].Ticks, BitConverter.ToUInt64(outcomes[0].Data));
    }

    [Fact]
    public void InstructionCountsAreIdenticalAtEveryKickPoint()
    {
        // The same loop stopped by a kick at the timer poll: with and without the translator the count at the stop is
        // the one the interpreter gives, and so is the state.
        var outcomes = RunAll(rig =>
        {
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            p.mov(ecx, 100000);
            p.Label(ref loop);
            p.add(rax, rcx);
            p.shl(rax, 1);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        }, events: rig => new KickAtPoll(rig.Core, 12345));
        Assert.Equal(CoreStop.Kicked, outcomes[0].Stop);
        Assert.InRange(outcomes[0].Retired, 12345UL, 12345UL + 8);
    }

    [Theory]
    [InlineData(TranslatorMode.Off)]
    [InlineData(TranslatorMode.Always)]
    [InlineData(TranslatorMode.On)]
    public void CodeWrittenByAnotherVcpuEndsALoopRunningInTranslatedCode(TranslatorMode mode)
    {
        // `jmp $` forever, translated into a loop inside the code cache; another thread then overwrites it with HLT as
        // another vCPU's store would (the write, then the code-page note). The loop must come out and run the HLT.
        using var rig = new LongModeRig(mode);
        rig.Memory.Write(new GuestAddress(LongModeRig.Code), [(byte)0xEB, (byte)0xFE]);
        rig.Physical.MarkCodePage(LongModeRig.Code >> 12);
        using var writer = new Timer(_ =>
        {
            rig.Memory.Write(new GuestAddress(LongModeRig.Code), [(byte)0xF4, (byte)0xF4]);
            rig.Physical.NoteWrite(LongModeRig.Code, 2);
        }, null, 300, Timeout.Infinite);
        using var watchdog = new Timer(_ => rig.Core.Kick(), null, 10_000, Timeout.Infinite);
        Assert.Equal(CoreStop.Halt, rig.Core.Run());
        Assert.Equal(LongModeRig.Code + 1, rig.Cpu.Rip);
        if (mode != TranslatorMode.Off) Assert.True(rig.Core.Translator!.InstructionsTranslated > 0);
    }

    /// <summary>Kicks the core at its first timer poll at or after <paramref name="at"/> instructions.</summary>
    private sealed class KickAtPoll(CpuCore core, ulong at) : ICpuEvents
    {
        private bool _first = true;

        public ulong PollTimers()
        {
            if (_first)
            {
                _first = false;
                return at;
            }
            core.Kick();
            return ulong.MaxValue / 2;
        }

        public bool UrgentPending => false;
        public bool MayHaveInterrupt => false;

        public CpuEvent Take(bool interruptible, bool nmiBlocked, out byte vector)
        {
            vector = 0;
            return CpuEvent.None;
        }
    }
}
