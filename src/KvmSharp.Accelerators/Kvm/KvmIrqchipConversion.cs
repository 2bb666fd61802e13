using KvmSharp.Memory;
using KvmSharp.Native.Kvm;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>
/// Between KVM's in-kernel PIC, IOAPIC and PIT structures and their saved records. KVM copies most of these
/// fields in as they are, so loading checks each against what the kernel's own devices ever hold.
/// </summary>
internal static class KvmIrqchipConversion
{
    public static InKernelPicState ToState(in KvmPicState p) => new()
    {
        LastIrr = p.LastIrr, Irr = p.Irr, Imr = p.Imr, Isr = p.Isr, PriorityAdd = p.PriorityAdd, IrqBase = p.IrqBase,
        ReadRegisterSelect = p.ReadRegisterSelect != 0, Poll = p.Poll != 0, SpecialMask = p.SpecialMask != 0, InitState = p.InitState,
        AutoEoi = p.AutoEoi != 0, RotateOnAutoEoi = p.RotateOnAutoEoi != 0, SpecialFullyNestedMode = p.SpecialFullyNestedMode != 0,
        Init4 = p.Init4 != 0, Elcr = p.Elcr, ElcrMask = p.ElcrMask,
    };

    public static KvmPicState FromState(InKernelPicState? state, string field)
    {
        state = StateCheck.NotNull(state, field);
        StateCheck.AtMost(state.PriorityAdd, 7, $"{field}.PriorityAdd");
        StateCheck.That((state.IrqBase & 7) == 0, $"{field}.IrqBase", "is not a multiple of 8");
        StateCheck.AtMost(state.InitState, 3, $"{field}.InitState");
        StateCheck.That((state.Elcr & ~state.ElcrMask) == 0, $"{field}.Elcr", "marks inputs level-triggered that the ELCR mask leaves edge-only");
        return new KvmPicState
        {
            LastIrr = state.LastIrr, Irr = state.Irr, Imr = state.Imr, Isr = state.Isr, PriorityAdd = state.PriorityAdd, IrqBase = state.IrqBase,
            ReadRegisterSelect = Bit(state.ReadRegisterSelect), Poll = Bit(state.Poll), SpecialMask = Bit(state.SpecialMask),
            InitState = state.InitState, AutoEoi = Bit(state.AutoEoi), RotateOnAutoEoi = Bit(state.RotateOnAutoEoi),
            SpecialFullyNestedMode = Bit(state.SpecialFullyNestedMode), Init4 = Bit(state.Init4), Elcr = state.Elcr, ElcrMask = state.ElcrMask,
        };
    }

    public static InKernelIoApicState ToState(in KvmIoapicState s)
    {
        var table = new ulong[KvmIoapicState.PinCount];
        for (int i = 0; i < table.Length; i++) table[i] = s.RedirectionTable[i];
        return new InKernelIoApicState { BaseAddress = s.BaseAddress, RegisterSelect = s.RegisterSelect, Id = s.Id, Irr = s.Irr, RedirectionTable = table };
    }

    public static KvmIoapicState FromState(InKernelIoApicState? state, string field)
    {
        state = StateCheck.NotNull(state, field);
        // KVM decodes the IOAPIC's MMIO at base_address: it stays where our memory map (and the MADT) put it.
        StateCheck.That(state.BaseAddress == MemoryMap.IoApicStart, $"{field}.BaseAddress", $"0x{state.BaseAddress:x} is not the IOAPIC's 0x{MemoryMap.IoApicStart:x}");
        StateCheck.AtMost(state.RegisterSelect, 0xFF, $"{field}.RegisterSelect");
        StateCheck.AtMost(state.Id, 0xF, $"{field}.Id");
        StateCheck.AtMost(state.Irr, (1u << KvmIoapicState.PinCount) - 1, $"{field}.Irr");
        var table = StateCheck.Length(state.RedirectionTable, KvmIoapicState.PinCount, $"{field}.RedirectionTable");
        var s = new KvmIoapicState { BaseAddress = state.BaseAddress, RegisterSelect = state.RegisterSelect, Id = state.Id, Irr = state.Irr };
        for (int i = 0; i < table.Length; i++)
        {
            // Bits 17–55 are reserved (82093AA §3.2.4).
            StateCheck.That((table[i] & 0x00FF_FFFF_FFFE_0000UL) == 0, $"{field}.RedirectionTable[{i}]", $"0x{table[i]:x} sets reserved bits");
            s.RedirectionTable[i] = table[i];
        }
        return s;
    }

    public static InKernelPitState ToState(in KvmPitState2 pit)
    {
        var channels = new InKernelPitChannelState[3];
        for (int i = 0; i < 3; i++)
        {
            var c = pit.Channels[i];
            channels[i] = new InKernelPitChannelState
            {
                Count = c.Count, LatchedCount = c.LatchedCount, CountLatched = c.CountLatched, StatusLatched = c.StatusLatched != 0,
                Status = c.Status, ReadState = c.ReadState, WriteState = c.WriteState, WriteLatch = c.WriteLatch, RwMode = c.RwMode,
                Mode = c.Mode, Bcd = c.Bcd != 0, Gate = c.Gate != 0, CountLoadTime = c.CountLoadTime,
            };
        }
        return new InKernelPitState { Channels = channels, Flags = pit.Flags };
    }

    public static KvmPitState2 FromState(InKernelPitState state)
    {
        var channels = StateCheck.Length(state.Channels, 3, "Pit.Channels");
        StateCheck.That((state.Flags & ~KvmPitState2.KnownFlags) == 0, "Pit.Flags", $"0x{state.Flags:x} has flags KVM does not define");
        var pit = new KvmPitState2 { Flags = state.Flags };
        for (int i = 0; i < 3; i++)
        {
            string field = $"Pit.Channels[{i}]";
            var c = StateCheck.NotNull(channels[i], field);
            // The kernel's i8254: a count of up to 0x10000, modes 0–5 (0xFF before the first control word), access
            // modes and read/write states 0–4 (RW_STATE_LSB..RW_STATE_WORD1).
            StateCheck.AtMost(c.Count, 0x1_0000, $"{field}.Count");
            StateCheck.That(c.Mode <= 5 || c.Mode == 0xFF, $"{field}.Mode", $"{c.Mode} is not an 8254 mode");
            StateCheck.AtMost(c.RwMode, 3, $"{field}.RwMode");
            StateCheck.AtMost(c.CountLatched, 4, $"{field}.CountLatched");
            StateCheck.AtMost(c.ReadState, 4, $"{field}.ReadState");
            StateCheck.AtMost(c.WriteState, 4, $"{field}.WriteState");
            pit.Channels[i] = new KvmPitChannelState
            {
                Count = c.Count, LatchedCount = c.LatchedCount, CountLatched = c.CountLatched, StatusLatched = Bit(c.StatusLatched),
                Status = c.Status, ReadState = c.ReadState, WriteState = c.WriteState, WriteLatch = c.WriteLatch, RwMode = c.RwMode,
                Mode = c.Mode, Bcd = Bit(c.Bcd), Gate = Bit(c.Gate), CountLoadTime = c.CountLoadTime,
            };
        }
        return pit;
    }

    private static byte Bit(bool value) => value ? (byte)1 : (byte)0;
}
