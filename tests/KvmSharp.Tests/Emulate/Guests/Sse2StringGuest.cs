using Iced.Intel;
using KvmSharp.Machine.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Guests;

/// <summary>
/// A multiboot guest doing string work the way SSE2 C libraries do: strlen with PCMPEQB/PMOVMSKB over
/// 16-byte blocks, memset with MOVDQA stores, a 16-byte compare, FXSAVE of an XMM register, and a
/// scalar double computation (CVTSI2SD, SQRTSD, MULSD, CVTTSD2SI). Prints each result in hex.
/// </summary>
internal static class Sse2StringGuest
{
    public const string ExpectedOutput =
        "strlen 0000002b\n" +
        "memset+compare mask 0000ffff\n" +
        "fxsave xmm1 low 2a2a2a2a\n" +
        "sqrt(2)*1000000 00159445\n";

    private const uint Buffer = 0x300000, FxArea = 0x301000;

    public static byte[] Build() => MultibootFlatImage.Build((a, data) =>
    {
        var puts = a.CreateLabel();
        var putHex = a.CreateLabel();
        var scan = a.CreateLabel();
        var found = a.CreateLabel();
        a.mov(esp, 0x90000);
        a.mov(eax, cr4);
        a.or(eax, 1 << 9);                 // CR4.OSFXSR: SSE allowed (SDM vol 3 §13.1.3)
        a.mov(cr4, eax);

        // strlen of a 16-byte-aligned string, 16 bytes at a time.
        data.Add(new byte[(16 - (int)(data.NextAddress & 15)) & 15]);
        uint text = data.AddString("The quick brown fox jumps over the lazy dog");
        a.mov(edx, text);
        a.pxor(xmm0, xmm0);
        a.Label(ref scan);
        a.movdqa(xmm1, __xmmword_ptr[edx]);
        a.pcmpeqb(xmm1, xmm0);
        a.pmovmskb(eax, xmm1);
        a.test(eax, eax);
        a.jnz(found);
        a.add(edx, 16);
        a.jmp(scan);
        a.Label(ref found);
        a.bsf(eax, eax);
        a.add(eax, edx);
        a.sub(eax, text);
        a.mov(ebx, eax);
        a.mov(esi, data.AddString("strlen "));
        a.call(puts);
        a.mov(eax, ebx);
        a.call(putHex);

        // memset 64 bytes with '*', then compare the second 16 bytes with a register of '*'.
        a.mov(eax, 0x2A2A2A2A);
        a.movd(xmm1, eax);
        a.pshufd(xmm1, xmm1, 0);
        for (int k = 0; k < 4; k++) a.movdqa(__xmmword_ptr[Buffer + (uint)(16 * k)], xmm1);
        a.movdqu(xmm2, __xmmword_ptr[Buffer + 16]);
        a.pcmpeqb(xmm2, xmm1);
        a.pmovmskb(ebx, xmm2);
        a.mov(esi, data.AddString("memset+compare mask "));
        a.call(puts);
        a.mov(eax, ebx);
        a.call(putHex);

        // FXSAVE: XMM1 is at offset 160 + 16 of the image.
        a.fxsave(__[FxArea]);
        a.mov(ebx, __dword_ptr[FxArea + 176]);
        a.mov(esi, data.AddString("fxsave xmm1 low "));
        a.call(puts);
        a.mov(eax, ebx);
        a.call(putHex);

        // (int)(sqrt(2.0) * 1e6)
        a.mov(eax, 2);
        a.cvtsi2sd(xmm3, eax);
        a.sqrtsd(xmm3, xmm3);
        a.mov(eax, 1_000_000);
        a.cvtsi2sd(xmm4, eax);
        a.mulsd(xmm3, xmm4);
        a.cvttsd2si(ebx, xmm3);
        a.mov(esi, data.AddString("sqrt(2)*1000000 "));
        a.call(puts);
        a.mov(eax, ebx);
        a.call(putHex);

        a.mov(dx, 0xF4);
        a.mov(al, 0x21);
        a.@out(dx, al);
        TinyGuests.EmitHaltForever(a);
        TinyGuests.EmitPuts(a, puts);
        EmitPutHexLine(a, putHex, data);
    });

    /// <summary>EAX as 8 hex digits, then a newline.</summary>
    internal static void EmitPutHexLine(Assembler a, Label putHex, MultibootFlatImage.DataArea data)
    {
        var hex = a.CreateLabel();
        var puts = a.CreateLabel();
        uint newline = data.AddString("\n");
        a.Label(ref putHex);
        a.call(hex);
        a.mov(esi, newline);
        a.call(puts);
        a.ret();
        TinyGuests.EmitPutHex(a, hex);
        TinyGuests.EmitPuts(a, puts);
    }
}
