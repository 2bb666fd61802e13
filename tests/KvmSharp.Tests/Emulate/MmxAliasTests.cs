using Iced.Intel;
using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;
using static Iced.Intel.AssemblerRegisters;

namespace KvmSharp.Tests.Emulate;

/// <summary>
/// MM0–MM7 are the x87 registers R0–R7 (SDM vol 1 §9.2.1), checked against the SDM directly (Unicorn,
/// QEMU 5, leaves bits 79:64 of an MMX-written register at zero): a MOVQ to MMn puts the value in the
/// significand of Rn and all ones in its sign and exponent, and every MMX instruction sets TOP to 0 and
/// tags all registers valid (§9.5.1) — which FXSAVE shows; EMMS empties the tags, so x87 loads work again.
/// </summary>
public class MmxAliasTests
{
    private const ulong Code = 0x10000, Image = 0x20000, AfterEmms = 0x20400, Source = 0x20800;
    private const ulong Value = 0x0123_4567_89AB_CDEF;

    [Fact]
    public void MmxRegistersAreTheX87Registers()
    {
        using var memory = GuestMemory.Create(4 << 20);
        var core = BareCpu.Create(new PhysicalMemory(memory), out _, Code);
        memory.Write(new GuestAddress(Source), Value);
        var a = new Assembler(32);
        a.fninit();
        a.fld1();                                   // R7 = 1.0, TOP = 7
        a.movq(mm3, __qword_ptr[(uint)Source]);     // R3 = Value; TOP = 0, all valid
        a.fxsave(__[(uint)Image]);
        a.emms();
        a.fld1();                                   // the stack is empty again: R7 = 1.0, TOP = 7
        a.fxsave(__[(uint)AfterEmms]);
        a.hlt();
        BareCpu.Write(memory, Code, a);

        Assert.Equal(CoreStop.Halt, core.Run());
        // FXSAVE: FSW at +2 (TOP in bits 13:11), abridged FTW at +4, ST(i) at +32 + 16 i (SDM vol 1 §10.5.1).
        Assert.Equal(0, (int)(BareCpu.Read64(memory, Image + 2) >> 11) & 7);
        Assert.Equal(0xFF, (int)BareCpu.Read64(memory, Image + 4) & 0xFF);
        Assert.Equal(Value, BareCpu.Read64(memory, Image + 32 + 16 * 3));
        Assert.Equal(0xFFFF, (int)BareCpu.Read64(memory, Image + 32 + 16 * 3 + 8) & 0xFFFF);
        Assert.Equal(0x8000_0000_0000_0000UL, BareCpu.Read64(memory, Image + 32 + 16 * 7));   // the 1.0 loaded before, untouched
        Assert.Equal(7, (int)(BareCpu.Read64(memory, AfterEmms + 2) >> 11) & 7);
        Assert.Equal(0x80, (int)BareCpu.Read64(memory, AfterEmms + 4) & 0xFF);                // only R7 valid
        Assert.Equal(0x8000_0000_0000_0000UL, BareCpu.Read64(memory, AfterEmms + 32));         // ST(0) = 1.0
    }
}
