using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Accelerators.Emulate.Translate;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Translate;

/// <summary>
/// Translated code going on by itself (the jump table for returns and cross-page jumps), flag records skipped where
/// nothing reads them, flags guessed from the record a block was translated with, and MUL/DIV on the host: each
/// against the interpreter (<see cref="TranslatorTests.RunAll"/>), with a case that breaks when the feature is wrong.
/// </summary>
public class TranslatorGoOnTests
{
    [Fact]
    public void CallsAndReturnsAcrossPagesStayInTranslatedCode()
    {
        // A loop on one page calls a function on another 1000 times: under --jit always the CALL goes on into the
        // function through the jump table and its RET back into the loop, so the run loop enters translated code a
        // handful of times, not once per block (about 3000 block transitions).
        const ulong function = LongModeRig.Code + 0x3000;
        var outcomes = TranslatorTests.RunAll(rig =>
        {
            var f = new Assembler(64);
            f.add(rax, rcx);
            f.ret();
            rig.Load(f, function);
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            p.mov(ecx, 1000);
            p.Label(ref loop);
            p.call(function);
            p.xor(rbx, rax);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        });
        Assert.Equal(500500UL, outcomes[0].Gprs[CpuState.Rax]);
        using var rig = new LongModeRig(TranslatorMode.Always);
        var f = new Assembler(64);
        f.add(rax, rcx);
        f.ret();
        rig.Load(f, function);
        var p = new Assembler(64);
        var loop = p.CreateLabel();
        p.mov(ecx, 1000);
        p.Label(ref loop);
        p.call(function);
        p.dec(ecx);
        p.jnz(loop);
        p.hlt();
        rig.Load(p);
        Assert.Equal(CoreStop.Halt, rig.Core.Run());
        Assert.InRange(rig.Core.Translator!.Entries, 1, 20);
    }

    [Fact]
    public void AJumpTableEntryOfAnotherTranslationEpochIsNotTaken()
    {
        // The called page is remapped halfway (PTE rewritten, INVLPG) to other code: calls after that must run the new
        // code. An entry made before the INVLPG names the old code, so it must miss by its epoch.
        const ulong function = LongModeRig.SmallPages + 0x3000, first = LongModeRig.SmallPages + 0x6000, second = LongModeRig.SmallPages + 0x7000;
        const ulong pte = LongModeRig.Pt + ((function - LongModeRig.SmallPages) >> 12) * 8;
        var outcomes = TranslatorTests.RunAll(rig =>
        {
            var a = new Assembler(64);
            a.mov(eax, 1);
            a.ret();
            rig.Load(a, first);
            var b = new Assembler(64);
            b.mov(eax, 2);
            b.ret();
            rig.Load(b, second);
            rig.Write64(pte, first | 0x3);
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            var same = p.CreateLabel();
            p.mov(ecx, 100);
            p.xor(ebx, ebx);
            p.Label(ref loop);
            p.call(function);
            p.add(rbx, rax);
            p.cmp(ecx, 51);
            p.jne(same);
            p.mov(rax, second | 0x3);
            p.mov(__qword_ptr[(long)pte], rax);
            p.invlpg(__byte_ptr[(long)function]);
            p.Label(ref same);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        });
        Assert.Equal(50UL * 1 + 50UL * 2, outcomes[0].Gprs[CpuState.Rbx]);
    }

    [Fact]
    public void AFaultAfterARotateSeesTheRotatesFlags()
    {
        // The rotates' CF/OF are overwritten by the ADD after the load, but the load can fault first: then the #PF
        // handler must find the flags the rotate made. The loop walks into a page that is not present.
        const ulong page = LongModeRig.SmallPages + 0x5000;
        var outcomes = TranslatorTests.RunAll(rig =>
        {
            rig.SetSmallPage(page, present: false);
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            p.mov(rdi, page - 8 * 30);
            p.mov(rax, 0x8000_0000_0000_0001UL);
            p.mov(ecx, 1000);
            p.Label(ref loop);
            p.add(rbx, rcx);              // flags that the ROL then partly keeps
            p.rol(rax, 1);
            p.mov(rdx, __qword_ptr[rdi]);
            p.add(rdx, rax);
            p.ror(rbx, 3);                // dead: the XOR overwrites every flag and nothing between can stop
            p.mov(rsi, rbx);
            p.xor(rsi, rdx);
            p.add(rdi, 8);
            p.dec(ecx);
            p.jnz(loop);
            p.hlt();
            rig.Load(p);
        }, dataAddress: page - 8 * 30, dataLength: 8 * 30);
        Assert.Equal(LongModeRig.Handlers + 14 + 1, outcomes[0].Rip);
    }

    [Fact]
    public void ABlockEnteredAfterAnotherKindOfFlagProducerReadsThoseFlags()
    {
        // The block at `reader` reads CF, ZF and OF set by whichever block ran before it: ADD, SHL, INC (CF from the ADD
        // before it), IMUL or a rotate, in turn. Its translation guesses the kind it first saw; every other entry must
        // leave for the interpreter rather than read the record as that kind.
        RunAll5();
    }

    private static void RunAll5() => TranslatorTests.RunAll(rig =>
    {
        var p = new Assembler(64);
        var loop = p.CreateLabel();
        var reader = p.CreateLabel();
        var back = p.CreateLabel();
        var k1 = p.CreateLabel();
        var k2 = p.CreateLabel();
        var k3 = p.CreateLabel();
        var k4 = p.CreateLabel();
        p.mov(rax, 0x7FFF_FFFF_FFFF_FFF0UL);
        p.mov(rbx, 0x9);
        p.mov(ecx, 200);
        p.Label(ref loop);
        p.mov(edx, ecx);
        p.and(edx, 3);
        p.cmp(edx, 1);
        p.je(k1);
        p.cmp(edx, 2);
        p.je(k2);
        p.cmp(edx, 3);
        p.je(k3);
        p.add(rax, rbx);
        p.jmp(reader);
        p.Label(ref k1);
        p.shl(rax, 3);
        p.jmp(reader);
        p.Label(ref k2);
        p.add(rbx, rax);
        p.inc(rbx);
        p.jmp(reader);
        p.Label(ref k3);
        p.imul(rax, rbx);
        p.jmp(k4);
        p.Label(ref k4);
        p.rol(rbx, 1);
        p.jmp(reader);
        p.Label(ref reader);
        p.setc(dl);
        p.sete(r14b);
        p.seto(r8b);
        p.movzx(r9d, dl);
        p.add(r10, r9);
        p.movzx(r9d, r14b);
        p.add(r11, r9);
        p.movzx(r9d, r8b);
        p.add(r12, r9);
        p.jmp(back);
        p.Label(ref back);
        p.dec(ecx);
        p.jnz(loop);
        p.hlt();
        rig.Load(p);
    });

    [Fact]
    public void MulAndDivOnRegistersAgreeIncludingDivideErrors()
    {
        // MUL/DIV of both widths in a hot loop (flags of MUL read by SETcc), then a DIV whose quotient does not fit
        // (#DE from a translated block: the handler is HLT at vector 0) on the last iteration.
        var outcomes = TranslatorTests.RunAll(rig =>
        {
            var p = new Assembler(64);
            var loop = p.CreateLabel();
            var last = p.CreateLabel();
            p.mov(r8, 0x1234_5678_9ABC_DEF1UL);
            p.mov(r9d, 0xFFFF_FFF1);
            p.mov(ecx, 300);
            p.Label(ref loop);
            p.mov(rax, r8);
            p.mul(r9);
            p.setc(bl);
            p.add(r10, rdx);
            p.mov(eax, r8d);
            p.mul(r9d);
            p.seto(bh);
            p.add(r11, rax);
            p.mov(rax, r8);
            p.xor(edx, edx);
            p.mov(rsi, rcx);
            p.add(rsi, 7);
            p.div(rsi);
            p.add(r12, rdx);
            p.mov(eax, r10d);
            p.mov(edx, 3);
            p.div(r9d);
            p.add(r13, rax);
            p.add(r8, rax);
            p.cmp(ecx, 1);
            p.je(last);
            p.dec(ecx);
            p.jmp(loop);
            p.Label(ref last);
            p.mov(rdx, rsi);              // high half = divisor: the quotient does not fit
            p.div(rsi);
            p.hlt();
            rig.Load(p);
        });
        Assert.Equal(LongModeRig.Handlers + 0 + 1, outcomes[0].Rip);   // #DE's handler
    }
}
