using KvmSharp.Accelerators.Emulate.Cpu;

namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// Byte offsets of the fields translated code addresses, measured from the structs themselves (not written down
/// by hand), so a field added to <see cref="CpuHotState"/>, <see cref="LazyFlags"/> or the TLB entry cannot
/// silently move what the generated code reads.
/// </summary>
internal static unsafe class GuestLayout
{
    public static readonly int Rip, FlagsOp, FlagsSize, Result, Left, Right, Materialized, CarryOp, CarrySize, Attention, Retired, NextEventCheck, ChainSlot, ExitBlock, Context;
    public static readonly int TlbEntrySize, TlbLinearPage, TlbPhysicalPage, TlbHostPage, TlbUserRead, TlbWrite, TlbUserWrite;

    static GuestLayout()
    {
        CpuHotState s = default;
        byte* b = (byte*)&s;
        Rip = (int)((byte*)&s.Rip - b);
        FlagsOp = (int)((byte*)&s.Flags.Op - b);
        FlagsSize = (int)((byte*)&s.Flags.Size - b);
        Result = (int)((byte*)&s.Flags.Result - b);
        Left = (int)((byte*)&s.Flags.Left - b);
        Right = (int)((byte*)&s.Flags.Right - b);
        Materialized = (int)((byte*)&s.Flags.Materialized - b);
        CarryOp = (int)((byte*)&s.Flags.CarryOp - b);
        CarrySize = (int)((byte*)&s.Flags.CarrySize - b);
        Attention = (int)((byte*)&s.Attention - b);
        Retired = (int)((byte*)&s.Retired - b);
        NextEventCheck = (int)((byte*)&s.NextEventCheck - b);
        ChainSlot = (int)((byte*)&s.ChainSlot - b);
        ExitBlock = (int)((byte*)&s.ExitBlock - b);
        Context = (int)((byte*)&s.Context - b);
        if (FlagsSize != FlagsOp + 1 || CarrySize != CarryOp + 1) throw new InvalidOperationException("LazyFlags.Op/Size and CarryOp/CarrySize must be adjacent bytes");

        Mmu.TlbEntry e = default;
        byte* t = (byte*)&e;
        TlbEntrySize = sizeof(Mmu.TlbEntry);
        TlbLinearPage = (int)((byte*)&e.LinearPage - t);
        TlbPhysicalPage = (int)((byte*)&e.PhysicalPage - t);
        TlbHostPage = (int)((byte*)&e.HostPage - t);
        TlbUserRead = (int)((byte*)&e.UserRead - t);
        TlbWrite = (int)((byte*)&e.Write - t);
        TlbUserWrite = (int)((byte*)&e.UserWrite - t);
        if (TlbEntrySize != 64) throw new InvalidOperationException("the soft-TLB probe indexes 64-byte entries");
    }
}
