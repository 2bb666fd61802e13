using System.Runtime.CompilerServices;
using Iced.Intel;

namespace KvmSharp.Accelerators.Emulate.Cpu;

/// <summary>
/// Where each Iced <see cref="Register"/> lives in <see cref="CpuState.Gpr"/>. Iced numbers the general
/// registers in blocks (AL–BL, AH–BH, SPL–R15L, AX–R15W, EAX–R15D, RAX–R15, in hardware order), so the
/// slot is computed from the number: no table, no static state on the hot path.
/// </summary>
public static class RegisterFile
{
    public readonly record struct Slot(sbyte Index, byte Size, bool HighByte);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Slot Of(Register register)
    {
        int r = (int)register;
        if (r >= (int)Register.RAX && r <= (int)Register.R15) return new Slot((sbyte)(r - (int)Register.RAX), 8, false);
        if (r >= (int)Register.EAX) return r <= (int)Register.R15D ? new Slot((sbyte)(r - (int)Register.EAX), 4, false) : new Slot(-1, 0, false);
        if (r >= (int)Register.AX) return new Slot((sbyte)(r - (int)Register.AX), 2, false);
        if (r >= (int)Register.SPL) return new Slot((sbyte)(r - (int)Register.SPL + 4), 1, false);
        if (r >= (int)Register.AH) return new Slot((sbyte)(r - (int)Register.AH), 1, true);
        if (r >= (int)Register.AL) return new Slot((sbyte)(r - (int)Register.AL), 1, false);
        return new Slot(-1, 0, false);
    }

    public static bool IsGeneral(Register register) => Of(register).Index >= 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Read(ulong[] gpr, Register register)
    {
        var slot = Of(register);
        ulong value = gpr[slot.Index];
        return slot.Size switch
        {
            8 => value,
            4 => value & 0xFFFF_FFFF,
            2 => value & 0xFFFF,
            _ => slot.HighByte ? (value >> 8) & 0xFF : value & 0xFF,
        };
    }

    /// <summary>Writes with x86-64 semantics: 32-bit writes zero the upper half, 8/16-bit writes merge (SDM vol 1 §3.4.1.1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Write(ulong[] gpr, Register register, ulong value)
    {
        var slot = Of(register);
        ref ulong target = ref gpr[slot.Index];
        switch (slot.Size)
        {
            case 8: target = value; break;
            case 4: target = value & 0xFFFF_FFFF; break;
            case 2: target = (target & ~0xFFFFUL) | (value & 0xFFFF); break;
            default:
                target = slot.HighByte ? (target & ~0xFF00UL) | ((value & 0xFF) << 8) : (target & ~0xFFUL) | (value & 0xFF);
                break;
        }
    }
}
