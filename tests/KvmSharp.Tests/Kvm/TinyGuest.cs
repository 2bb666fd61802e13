using Iced.Intel;
using KvmSharp.Accelerators;
using KvmSharp.Native.X86;

namespace KvmSharp.Tests.Kvm;

/// <summary>Tiny 32-bit flat protected-mode guests for the KVM integration tests.</summary>
internal static class TinyGuest
{
    public const ulong CodeAddress = 0x1000;

    /// <summary>Flat code (0x10) and data (0x18) segments: the selectors <see cref="StartFlat32"/> loads.</summary>
    public static readonly ulong[] FlatGdt = [0, 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF];

    public static void StartFlat32(IVcpu vcpu, ulong rip, ulong gdtBase = 0, ulong idtBase = 0, ushort idtLimit = 0)
    {
        vcpu.GetSpecialRegisters(out var s);
        s.Cs = Segment.Flat(0x10, 0xB, code64: false);
        s.Ds = s.Es = s.Fs = s.Gs = s.Ss = Segment.Flat(0x18, 0x3, code64: false);
        s.Cr0 |= SpecialRegisters.Cr0ProtectionEnable;
        if (gdtBase != 0)
        {
            s.Gdt.Base = gdtBase;
            s.Gdt.Limit = (ushort)(FlatGdt.Length * 8 - 1);
        }
        if (idtBase != 0)
        {
            s.Idt.Base = idtBase;
            s.Idt.Limit = idtLimit;
        }
        vcpu.SetSpecialRegisters(s);
        vcpu.SetRegisters(new Registers { Rip = rip, Rflags = Registers.FlagsReserved, Rsp = 0x8000 });
    }

    public static byte[] Assemble32(Action<Assembler> body, ulong address)
    {
        var asm = new Assembler(32);
        body(asm);
        var stream = new MemoryStream();
        asm.Assemble(new StreamCodeWriter(stream), address);
        return stream.ToArray();
    }

    /// <summary>A 32-bit interrupt gate to flat code selector 0x10 (SDM vol 3 §6.11, figure 6-2).</summary>
    public static ulong InterruptGate(uint handler) =>
        (handler & 0xFFFF) | (0x10UL << 16) | (0x8E00UL << 32) | ((ulong)(handler >> 16) << 48);
}
