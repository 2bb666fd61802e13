using KvmSharp.Native.X86;
using KvmSharp.State;

namespace KvmSharp.Accelerators;

/// <summary>
/// Between the register structs both accelerators use at run time (the kvm_regs/kvm_sregs layouts) and their
/// saved records. Loading checks every field that has a range and names it in the <see cref="StateException"/>.
/// </summary>
public static class X86StateConversion
{
    public static RegistersState ToState(in Registers r) => new()
    {
        Gpr = [r.Rax, r.Rcx, r.Rdx, r.Rbx, r.Rsp, r.Rbp, r.Rsi, r.Rdi, r.R8, r.R9, r.R10, r.R11, r.R12, r.R13, r.R14, r.R15],
        Rip = r.Rip,
        Rflags = r.Rflags,
    };

    public static Registers ToRegisters(RegistersState? state, string field)
    {
        state = StateCheck.NotNull(state, field);
        var g = StateCheck.Length(state.Gpr, 16, $"{field}.Gpr");
        return new Registers
        {
            Rax = g[0], Rcx = g[1], Rdx = g[2], Rbx = g[3], Rsp = g[4], Rbp = g[5], Rsi = g[6], Rdi = g[7],
            R8 = g[8], R9 = g[9], R10 = g[10], R11 = g[11], R12 = g[12], R13 = g[13], R14 = g[14], R15 = g[15],
            Rip = state.Rip,
            // Bit 1 always reads 1 (SDM vol 1 §3.4.3); bits 22–63 are reserved and must be 0.
            Rflags = StateCheck.AtMost(state.Rflags, 0x3F_FFFF, $"{field}.Rflags") | Registers.FlagsReserved,
        };
    }

    public static SegmentState ToState(in Segment s) => new()
    {
        Selector = s.Selector, Base = s.Base, Limit = s.Limit, Type = s.Type, Present = s.Present != 0, Dpl = s.Dpl,
        DefaultSize = s.DefaultSize != 0, System = s.System != 0, Long = s.Long != 0, Granularity = s.Granularity != 0,
        Available = s.Available != 0, Unusable = s.Unusable != 0,
    };

    public static Segment ToSegment(SegmentState? state, string field)
    {
        state = StateCheck.NotNull(state, field);
        return new Segment
        {
            Selector = state.Selector, Base = state.Base, Limit = state.Limit,
            Type = (byte)StateCheck.InRange(state.Type, 0, 15, $"{field}.Type"),
            Present = Bit(state.Present), Dpl = (byte)StateCheck.InRange(state.Dpl, 0, 3, $"{field}.Dpl"),
            DefaultSize = Bit(state.DefaultSize), System = Bit(state.System), Long = Bit(state.Long),
            Granularity = Bit(state.Granularity), Available = Bit(state.Available), Unusable = Bit(state.Unusable),
        };
    }

    public static DescriptorTableState ToState(in DescriptorTable t) => new() { Base = t.Base, Limit = t.Limit };

    public static DescriptorTable ToDescriptorTable(DescriptorTableState? state, string field)
    {
        state = StateCheck.NotNull(state, field);
        return new DescriptorTable { Base = state.Base, Limit = state.Limit };
    }

    public static unsafe SpecialRegistersState ToState(in SpecialRegisters s)
    {
        var bitmap = new ulong[4];
        for (int i = 0; i < 4; i++) bitmap[i] = s.InterruptBitmap[i];
        return new SpecialRegistersState
        {
            Segments = [ToState(s.Es), ToState(s.Cs), ToState(s.Ss), ToState(s.Ds), ToState(s.Fs), ToState(s.Gs)],
            Ldt = ToState(s.Ldt), Tr = ToState(s.Tr), Gdt = ToState(s.Gdt), Idt = ToState(s.Idt),
            Cr0 = s.Cr0, Cr2 = s.Cr2, Cr3 = s.Cr3, Cr4 = s.Cr4, Cr8 = s.Cr8, Efer = s.Efer, ApicBase = s.ApicBase,
            InterruptBitmap = bitmap,
        };
    }

    public static unsafe SpecialRegisters ToSpecialRegisters(SpecialRegistersState? state, string field)
    {
        state = StateCheck.NotNull(state, field);
        var segments = StateCheck.Length(state.Segments, 6, $"{field}.Segments");
        var bitmap = StateCheck.Length(state.InterruptBitmap, 4, $"{field}.InterruptBitmap");
        int pending = 0;
        foreach (ulong word in bitmap) pending += System.Numerics.BitOperations.PopCount(word);
        StateCheck.That(pending <= 1, $"{field}.InterruptBitmap", "names more than one pending interrupt");
        var s = new SpecialRegisters
        {
            Es = ToSegment(segments[0], $"{field}.Segments[0]"), Cs = ToSegment(segments[1], $"{field}.Segments[1]"),
            Ss = ToSegment(segments[2], $"{field}.Segments[2]"), Ds = ToSegment(segments[3], $"{field}.Segments[3]"),
            Fs = ToSegment(segments[4], $"{field}.Segments[4]"), Gs = ToSegment(segments[5], $"{field}.Segments[5]"),
            Ldt = ToSegment(state.Ldt, $"{field}.Ldt"), Tr = ToSegment(state.Tr, $"{field}.Tr"),
            Gdt = ToDescriptorTable(state.Gdt, $"{field}.Gdt"), Idt = ToDescriptorTable(state.Idt, $"{field}.Idt"),
            Cr0 = StateCheck.AtMost(state.Cr0, 0xFFFF_FFFF, $"{field}.Cr0"), Cr2 = state.Cr2, Cr3 = state.Cr3,
            Cr4 = StateCheck.AtMost(state.Cr4, 0xFFFF_FFFF, $"{field}.Cr4"), Cr8 = StateCheck.AtMost(state.Cr8, 15, $"{field}.Cr8"),
            Efer = state.Efer, ApicBase = state.ApicBase,
        };
        for (int i = 0; i < 4; i++) s.InterruptBitmap[i] = bitmap[i];
        return s;
    }

    private static byte Bit(bool value) => value ? (byte)1 : (byte)0;
}
