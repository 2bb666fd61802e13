using Iced.Intel;
using static Iced.Intel.AssemblerRegisters;
using static KvmSharp.Tests.Reference.ReferenceState;

namespace KvmSharp.Tests.Emulate.Differential;

/// <summary>
/// Flags carried across instructions, where lazy flags can go wrong: a producer (ADD … SAR, IMUL, NEG), then
/// zero to two INC/DEC of another width (which keep the producer's CF while replacing the other five flags),
/// then SETcc reading CF and OF. Single-instruction cases start from stored flags and never see the
/// producer's lazy record under an INC/DEC; these do.
/// </summary>
public class FlagChainDifferentialTests
{
    private static readonly int Count = DiffRandom.Cases(1500);

    private static readonly string[] Producers = ["add", "adc", "sub", "sbb", "cmp", "neg", "and", "xor", "shl", "shr", "sar", "imul", "inc", "dec", "stc", "clc"];

    [Fact]
    public void IncDecKeepTheCarryOfEveryProducer() => DifferentialHarness.Verify(DiffMode.Long64, Cases(Count));

    private static IEnumerable<DiffCase> Cases(int count)
    {
        var r = new DiffRandom("flag-chain");
        for (int n = 0; n < count; n++)
        {
            string producer = r.Pick(Producers);
            int size = r.Pick([1, 2, 4, 8]), bits = size * 8;
            int shift = r.Chance(30) ? 1 : 1 + r.Rng.Next(bits - 1);   // below the width: CF defined
            int steps = r.Rng.Next(3);
            var incDec = Enumerable.Range(0, steps).Select(_ => (Inc: r.Chance(50), Size: r.Pick([1, 2, 4, 8]))).ToArray();
            var c = new DiffCase($"{producer} r{bits}{(producer is "shl" or "shr" or "sar" ? $", {shift}" : "")}; {string.Join("; ", incDec.Select(s => $"{(s.Inc ? "inc" : "dec")} r{s.Size * 8}"))}; setc; seto", _ => { })
            {
                Rflags = r.Flags(),
            };
            for (int g = 0; g < 16; g++) c.Gprs[g] = r.Next64();
            // Values near the carry and overflow edges as often as random ones.
            c.Gprs[3] = r.Chance(50) ? r.Register(size) : r.Value(size);
            c.Gprs[1] = r.Chance(50) ? r.Register(size) : r.Value(size);
            c.Gprs[2] = r.Chance(50) ? r.Register(8) : (r.Chance(50) ? ulong.MaxValue : 0x7F7F_7F7F_7F7F_7F7FUL);
            // OF after a shift by more than one is undefined (SDM "SAL/SAR/SHL/SHR"); an INC/DEC defines it again.
            bool overflowDefined = steps > 0 || producer is not ("shl" or "shr" or "sar") || shift == 1;
            c.FlagsMask = overflowDefined ? ArithmeticFlags : ArithmeticFlags & ~OF;
            if (steps == 0 && producer is "shl" or "shr" or "sar") c.FlagsMask &= ~AF;   // AF after a shift: undefined
            if (steps == 0 && producer is "and" or "xor") c.FlagsMask &= ~AF;
            if (steps == 0 && producer == "imul") c.FlagsMask = CF | OF;                 // SF ZF AF PF undefined after IMUL
            yield return AluDifferentialTests.Rebuild(c, a =>
            {
                Emit(a, producer, size, shift);
                foreach (var (inc, stepSize) in incDec)
                {
                    if (inc) Unary(a, true, stepSize);
                    else Unary(a, false, stepSize);
                }
                a.setc(al);
                if (overflowDefined) a.seto(sil);
            });
        }
    }

    private static void Emit(Assembler a, string producer, int size, int shift)
    {
        switch (producer)
        {
            case "stc": a.stc(); return;
            case "clc": a.clc(); return;
        }
        switch (size)
        {
            case 1: Byte(a, producer, shift); break;
            case 2: Word(a, producer, shift); break;
            case 4: Dword(a, producer, shift); break;
            default: Qword(a, producer, shift); break;
        }
    }

    private static void Byte(Assembler a, string p, int shift)
    {
        switch (p)
        {
            case "add": a.add(bl, cl); break;
            case "adc": a.adc(bl, cl); break;
            case "sub": a.sub(bl, cl); break;
            case "sbb": a.sbb(bl, cl); break;
            case "cmp": a.cmp(bl, cl); break;
            case "neg": a.neg(bl); break;
            case "and": a.and(bl, cl); break;
            case "xor": a.xor(bl, cl); break;
            case "shl": a.shl(bl, (byte)shift); break;
            case "shr": a.shr(bl, (byte)shift); break;
            case "sar": a.sar(bl, (byte)shift); break;
            case "imul": a.imul(cl); break;
            case "inc": a.inc(bl); break;
            default: a.dec(bl); break;
        }
    }

    private static void Word(Assembler a, string p, int shift)
    {
        switch (p)
        {
            case "add": a.add(bx, cx); break;
            case "adc": a.adc(bx, cx); break;
            case "sub": a.sub(bx, cx); break;
            case "sbb": a.sbb(bx, cx); break;
            case "cmp": a.cmp(bx, cx); break;
            case "neg": a.neg(bx); break;
            case "and": a.and(bx, cx); break;
            case "xor": a.xor(bx, cx); break;
            case "shl": a.shl(bx, (byte)shift); break;
            case "shr": a.shr(bx, (byte)shift); break;
            case "sar": a.sar(bx, (byte)shift); break;
            case "imul": a.imul(bx, cx); break;
            case "inc": a.inc(bx); break;
            default: a.dec(bx); break;
        }
    }

    private static void Dword(Assembler a, string p, int shift)
    {
        switch (p)
        {
            case "add": a.add(ebx, ecx); break;
            case "adc": a.adc(ebx, ecx); break;
            case "sub": a.sub(ebx, ecx); break;
            case "sbb": a.sbb(ebx, ecx); break;
            case "cmp": a.cmp(ebx, ecx); break;
            case "neg": a.neg(ebx); break;
            case "and": a.and(ebx, ecx); break;
            case "xor": a.xor(ebx, ecx); break;
            case "shl": a.shl(ebx, (byte)shift); break;
            case "shr": a.shr(ebx, (byte)shift); break;
            case "sar": a.sar(ebx, (byte)shift); break;
            case "imul": a.imul(ebx, ecx, 31); break;
            case "inc": a.inc(ebx); break;
            default: a.dec(ebx); break;
        }
    }

    private static void Qword(Assembler a, string p, int shift)
    {
        switch (p)
        {
            case "add": a.add(rbx, rcx); break;
            case "adc": a.adc(rbx, rcx); break;
            case "sub": a.sub(rbx, rcx); break;
            case "sbb": a.sbb(rbx, rcx); break;
            case "cmp": a.cmp(rbx, rcx); break;
            case "neg": a.neg(rbx); break;
            case "and": a.and(rbx, rcx); break;
            case "xor": a.xor(rbx, rcx); break;
            case "shl": a.shl(rbx, (byte)shift); break;
            case "shr": a.shr(rbx, (byte)shift); break;
            case "sar": a.sar(rbx, (byte)shift); break;
            case "imul": a.imul(rbx, rcx); break;
            case "inc": a.inc(rbx); break;
            default: a.dec(rbx); break;
        }
    }

    private static void Unary(Assembler a, bool inc, int size)
    {
        switch (size)
        {
            case 1: if (inc) a.inc(dl); else a.dec(dl); break;
            case 2: if (inc) a.inc(dx); else a.dec(dx); break;
            case 4: if (inc) a.inc(edx); else a.dec(edx); break;
            default: if (inc) a.inc(rdx); else a.dec(rdx); break;
        }
    }
}
