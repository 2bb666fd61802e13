using KvmSharp.Native.Kvm;
using KvmSharp.State;

namespace KvmSharp.Accelerators.Kvm;

/// <summary>Between struct kvm_vcpu_events and its saved record; loading checks every field with a range.</summary>
internal static class KvmEventsConversion
{
    public static KvmVcpuEventsState ToState(in KvmVcpuEvents e) => new()
    {
        ExceptionInjected = e.ExceptionInjected != 0, ExceptionNumber = e.ExceptionNumber, ExceptionHasErrorCode = e.ExceptionHasErrorCode != 0,
        ExceptionPending = e.ExceptionPending != 0, ExceptionErrorCode = e.ExceptionErrorCode,
        ExceptionHasPayload = e.ExceptionHasPayload != 0, ExceptionPayload = e.ExceptionPayload,
        InterruptInjected = e.InterruptInjected != 0, InterruptNumber = e.InterruptNumber, InterruptSoft = e.InterruptSoft != 0,
        InterruptShadow = e.InterruptShadow, NmiInjected = e.NmiInjected != 0, NmiPending = e.NmiPending != 0, NmiMasked = e.NmiMasked != 0,
        SipiVector = e.SipiVector, Flags = e.Flags, Smm = e.SmiSmm != 0, SmiPending = e.SmiPending != 0,
        SmmInsideNmi = e.SmiInsideNmi != 0, LatchedInit = e.SmiLatchedInit != 0, TripleFaultPending = e.TripleFaultPending != 0,
    };

    public static KvmVcpuEvents FromState(KvmVcpuEventsState? state)
    {
        state = StateCheck.NotNull(state, "Events");
        // Exceptions are vectors 0–31 (SDM vol 3 §6.3.1); the shadow is MOV SS (1) and/or STI (2); a SIPI vector is 8 bits.
        StateCheck.AtMost(state.ExceptionNumber, 31, "Events.ExceptionNumber");
        StateCheck.AtMost(state.InterruptShadow, 3, "Events.InterruptShadow");
        StateCheck.AtMost(state.SipiVector, 0xFF, "Events.SipiVector");
        StateCheck.That((state.Flags & ~KvmVcpuEvents.KnownFlags) == 0, "Events.Flags", $"0x{state.Flags:x} has flags KVM does not define");
        StateCheck.That(!(state.ExceptionInjected && state.ExceptionPending), "Events", "an exception is both injected and pending");
        return new KvmVcpuEvents
        {
            ExceptionInjected = Bit(state.ExceptionInjected), ExceptionNumber = state.ExceptionNumber,
            ExceptionHasErrorCode = Bit(state.ExceptionHasErrorCode), ExceptionPending = Bit(state.ExceptionPending),
            ExceptionErrorCode = state.ExceptionErrorCode, ExceptionHasPayload = Bit(state.ExceptionHasPayload),
            ExceptionPayload = state.ExceptionPayload, InterruptInjected = Bit(state.InterruptInjected),
            InterruptNumber = state.InterruptNumber, InterruptSoft = Bit(state.InterruptSoft), InterruptShadow = state.InterruptShadow,
            NmiInjected = Bit(state.NmiInjected), NmiPending = Bit(state.NmiPending), NmiMasked = Bit(state.NmiMasked),
            SipiVector = state.SipiVector, Flags = state.Flags, SmiSmm = Bit(state.Smm), SmiPending = Bit(state.SmiPending),
            SmiInsideNmi = Bit(state.SmmInsideNmi), SmiLatchedInit = Bit(state.LatchedInit), TripleFaultPending = Bit(state.TripleFaultPending),
        };
    }

    private static byte Bit(bool value) => value ? (byte)1 : (byte)0;
}
