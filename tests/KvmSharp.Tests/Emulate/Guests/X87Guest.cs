using Iced.Intel;
using KvmSharp.Machine.Guests;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate.Guests;

/// <summary>
/// A multiboot guest doing long double work the way x87 C code does: 1/3 in extended precision, √2 stored as a
/// double, π × 10⁹ to an int32 (too large: the integer indefinite), a negative 17-digit integer to packed BCD, 1000 mod π by an FPREM loop, 2/3
/// rounded down in single precision under a changed control word, FCOMI, FXAM of −∞ from 1/0, and the tag and
/// status words FNSTENV/FNSTSW see at the end. Prints each result in hex.
/// </summary>
internal static class X87Guest
{
    /// <summary>Checked against QEMU 7.2 TCG (see SystemGuestTests); π × 10⁹ overflows int32: the integer indefinite.</summary>
    public const string ExpectedOutput =
        "1/3 00003ffd\n" +
        "1/3 aaaaaaaa\n" +
        "1/3 aaaaaaab\n" +
        "sqrt2 3ff6a09e\n" +
        "sqrt2 667f3bcd\n" +
        "pi*1e9 80000000\n" +
        "bcd 00008001\n" +
        "bcd 23456789\n" +
        "bcd 87654321\n" +
        "1000 mod pi 3fef2735\n" +
        "1000 mod pi 4d3fef61\n" +
        "2/3 pc24 down 00003ffe\n" +
        "2/3 pc24 down aaaaaa00\n" +
        "2/3 pc24 down 00000000\n" +
        "fcomi flags 00000000\n" +
        "fxam status 00003f25\n" +
        "tag word 0000bfff\n";

    private const uint Scratch = 0x302000;

    public static byte[] Build() => MultibootFlatImage.Build((a, data) =>
    {
        var puts = a.CreateLabel();
        var putHex = a.CreateLabel();
        var reduce = a.CreateLabel();
        uint three = data.Add(BitConverter.GetBytes(3));
        uint billion = data.Add(BitConverter.GetBytes(1_000_000_000));
        uint thousand = data.Add(BitConverter.GetBytes(1000));
        uint big = data.Add(BitConverter.GetBytes(12_345_678_987_654_321L));
        a.mov(esp, 0x90000);
        a.fninit();

        void Print(string label, params uint[] addresses)
        {
            foreach (uint address in addresses)
            {
                a.mov(esi, data.AddString(label));
                a.call(puts);
                a.mov(eax, __dword_ptr[address]);
                a.call(putHex);
            }
        }

        a.fld1();
        a.fild(__dword_ptr[three]);
        a.fdivp(st1, st0);
        a.fstp(__tword_ptr[Scratch]);
        Print("1/3 ", Scratch + 8, Scratch + 4, Scratch);

        a.fld1();
        a.fadd(st0, st0);
        a.fsqrt();
        a.fstp(__qword_ptr[Scratch]);
        Print("sqrt2 ", Scratch + 4, Scratch);

        a.fldpi();
        a.fild(__dword_ptr[billion]);
        a.fmulp(st1, st0);
        a.fistp(__dword_ptr[Scratch]);
        Print("pi*1e9 ", Scratch);

        a.fild(__qword_ptr[big]);
        a.fchs();
        a.fbstp(__tword_ptr[Scratch]);
        Print("bcd ", Scratch + 8, Scratch + 4, Scratch);

        a.fldpi();
        a.fild(__dword_ptr[thousand]);
        a.Label(ref reduce);
        a.fprem();
        a.fnstsw(ax);
        a.test(ah, 4);                      // C2: reduction incomplete
        a.jnz(reduce);
        a.fstp(__qword_ptr[Scratch]);
        a.fstp(st0);
        Print("1000 mod pi ", Scratch + 4, Scratch);

        a.fnstcw(__word_ptr[Scratch + 16]);
        a.mov(__word_ptr[Scratch + 18], 0x047F);   // round down, 24-bit precision
        a.fldcw(__word_ptr[Scratch + 18]);
        a.fld1();
        a.fadd(st0, st0);
        a.fild(__dword_ptr[three]);
        a.fdivp(st1, st0);
        a.fstp(__tword_ptr[Scratch]);
        a.fldcw(__word_ptr[Scratch + 16]);
        Print("2/3 pc24 down ", Scratch + 8, Scratch + 4, Scratch);

        a.fldz();
        a.fld1();
        a.fcomip(st0, st1);
        a.fstp(st0);
        a.pushfd();
        a.pop(eax);
        a.and(eax, 0x8D5);
        a.mov(__dword_ptr[Scratch], eax);
        Print("fcomi flags ", Scratch);

        a.fld1();
        a.fchs();
        a.fldz();
        a.fdivp(st1, st0);
        a.fxam();
        a.fnstsw(ax);
        a.mov(__dword_ptr[Scratch], eax);
        a.fnstenv(__[Scratch + 32]);
        a.mov(__word_ptr[Scratch + 42], 0);   // the reserved upper half: ones on hardware, zeros in QEMU (Reference/README.md)
        Print("fxam status ", Scratch);
        Print("tag word ", Scratch + 40);

        a.mov(dx, 0xF4);
        a.mov(al, 0x23);
        a.@out(dx, al);
        TinyGuests.EmitHaltForever(a);
        TinyGuests.EmitPuts(a, puts);
        Sse2StringGuest.EmitPutHexLine(a, putHex, data);
    });
}
