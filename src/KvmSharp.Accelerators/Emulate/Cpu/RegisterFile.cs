using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// Where each Iced <see cref="Register"/> lives in <see cref="CpuState.Gpr"/>: index, width and whether it
/// is one of AH/CH/DH/BH (bits 8–15). Built once, so an operand access is a table lookup.
/// </summary>
public static class RegisterFile
{
    public readonly record struct Slot(sbyte Index, byte Size, bool HighByte);

    private static readonly Slot[] Slots = Build();

    private static Slot[] Build()
    {
        var slots = new Slot[Enum.GetValues<Register>().Length + 1];
        for (int i = 0; i < slots.Length; i++) slots[i] = new Slot(-1, 0, false);
        Register[] r8 = [Register.AL, Register.CL, Register.DL, Register.BL, Register.SPL, Register.BPL, Register.SIL, Register.DIL,
            Register.R8L, Register.R9L, Register.R10L, Register.R11L, Register.R12L, Register.R13L, Register.R14L, Register.R15L];
        Register[] r16 = [Register.AX, Register.CX, Register.DX, Register.BX, Register.SP, Register.BP, Register.SI, Register.DI,
            Register.R8W, Register.R9W, Register.R10W, Register.R11W, Register.R12W, Register.R13W, Register.R14W, Register.R15W];
        Register[] r32 = [Register.EAX, Register.ECX, Register.EDX, Register.EBX, Register.ESP, Register.EBP, Register.ESI, Register.EDI,
            Register.R8D, Register.R9D, Register.R10D, Register.R11D, Register.R12D, Register.R13D, Register.R14D, Register.R15D];
        Register[] r64 = [Register.RAX, Register.RCX, Register.RDX, Register.RBX, Register.RSP, Register.RBP, Register.RSI, Register.RDI,
            Register.R8, Register.R9, Register.R10, Register.R11, Register.R12, Register.R13, Register.R14, Register.R15];
        for (int i = 0; i < 16; i++)
        {
            slots[(int)r8[i]] = new Slot((sbyte)i, 1, false);
            slots[(int)r16[i]] = new Slot((sbyte)i, 2, false);
            slots[(int)r32[i]] = new Slot((sbyte)i, 4, false);
            slots[(int)r64[i]] = new Slot((sbyte)i, 8, false);
        }
        slots[(int)Register.AH] = new Slot(0, 1, true);
        slots[(int)Register.CH] = new Slot(1, 1, true);
        slots[(int)Register.DH] = new Slot(2, 1, true);
        slots[(int)Register.BH] = new Slot(3, 1, true);
        return slots;
    }

    public static Slot Of(Register register) => Slots[(int)register];

    public static bool IsGeneral(Register register) => Slots[(int)register].Index >= 0;

    public static ulong Read(ulong[] gpr, Register register)
    {
        var slot = Slots[(int)register];
        ulong value = gpr[slot.Index];
        return slot.Size switch
        {
            1 => slot.HighByte ? (value >> 8) & 0xFF : value & 0xFF,
            2 => value & 0xFFFF,
            4 => value & 0xFFFF_FFFF,
            _ => value,
        };
    }

    /// <summary>Writes with x86-64 semantics: 32-bit writes zero the upper half, 8/16-bit writes merge (SDM vol 1 §3.4.1.1).</summary>
    public static void Write(ulong[] gpr, Register register, ulong value)
    {
        var slot = Slots[(int)register];
        ref ulong target = ref gpr[slot.Index];
        switch (slot.Size)
        {
            case 1:
                target = slot.HighByte ? (target & ~0xFF00UL) | ((value & 0xFF) << 8) : (target & ~0xFFUL) | (value & 0xFF);
                break;
            case 2: target = (target & ~0xFFFFUL) | (value & 0xFFFF); break;
            case 4: target = value & 0xFFFF_FFFF; break;
            default: target = value; break;
        }
    }
}
