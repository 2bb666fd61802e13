using KvmSharp.State;

namespace KvmSharp.Accelerators.Emulate.Platform;

/// <summary>
/// An 82093AA-compatible I/O APIC with 24 pins: the indirect register window (IOREGSEL/IOWIN), the ID,
/// version and arbitration registers and the redirection table, delivering to the local APICs through
/// an <see cref="IApicBus"/>. Pin levels are logical (high = asserted), as KVM_IRQ_LINE's are, so the
/// polarity bit is stored for the guest but does not invert the line.
/// </summary>
public sealed class IoApic : IStateful<IoApicState>
{
    public const int PinCount = 24;

    /// <summary>Bytes of MMIO the IOAPIC decodes, as KVM's in-kernel IOAPIC claims them.</summary>
    public const ulong MmioSize = 0x100;

    /// <summary>Version 0x11 as KVM reports it (no EOI register; 0x20 would add one at +0x40).</summary>
    public const byte Version = 0x11;

    // 82093AA datasheet §3.1: the two directly addressed registers.
    private const ulong RegisterSelectOffset = 0x00, WindowOffset = 0x10;

    // 82093AA datasheet §3.2: the indirectly addressed registers.
    private const byte IdRegister = 0x00, VersionRegister = 0x01, ArbitrationRegister = 0x02, RedirectionTableStart = 0x10;

    private readonly IApicBus _apics;
    private readonly ulong[] _entries = new ulong[PinCount];
    private uint _lineLevels;   // bit n: pin n asserted
    private byte _select;
    private byte _id;

    public IoApic(IApicBus apics)
    {
        _apics = apics;
        // 82093AA datasheet §3.2.4: after reset every entry is masked, everything else zero.
        for (int pin = 0; pin < PinCount; pin++)
            _entries[pin] = RedirectionEntry.Mask;
    }

    /// <summary>The redirection entry of a pin (for tests and state dumps).</summary>
    public ulong Entry(int pin) => _entries[pin];

    public ulong ReadMmio(ulong offset, int size)
    {
        ulong value = offset switch
        {
            RegisterSelectOffset => _select,
            WindowOffset => ReadRegister(_select),
            _ => 0,   // nothing else is decoded; KVM reads such offsets as 0 too
        };
        return size switch
        {
            1 => value & 0xFF,
            2 => value & 0xFFFF,
            4 or 8 => value,
            _ => ulong.MaxValue,
        };
    }

    public void WriteMmio(ulong offset, int size, ulong value)
    {
        // 82093AA datasheet §3.0: the registers are accessed as 32-bit quantities; narrower writes are
        // dropped (KVM drops them as well), a 64-bit write carries the register in its low half.
        if (size is not (4 or 8))
            return;
        uint data = (uint)value;
        if (offset == RegisterSelectOffset)
            _select = (byte)data;
        else if (offset == WindowOffset)
            WriteRegister(_select, data);
    }

    private uint ReadRegister(byte register)
    {
        switch (register)
        {
            case IdRegister:
                return (uint)_id << 24;
            case VersionRegister:
                // §3.2.2: bits 23:16 maximum redirection entry, bits 7:0 version.
                return (uint)(PinCount - 1) << 16 | Version;
            case ArbitrationRegister:
                return (uint)_id << 24;
        }
        if (!TryEntryIndex(register, out int pin))
            return uint.MaxValue;   // an unimplemented register, read as KVM reads it
        ulong entry = _entries[pin];
        return (register & 1) != 0 ? (uint)(entry >> 32) : (uint)entry;
    }

    private void WriteRegister(byte register, uint data)
    {
        if (register == IdRegister)
        {
            _id = (byte)(data >> 24 & 0xF);   // §3.2.1: a 4-bit ID in bits 27:24
            return;
        }
        if (!TryEntryIndex(register, out int pin))
            return;   // version, arbitration and unimplemented registers are read-only
        ulong old = _entries[pin];
        ulong entry = (register & 1) != 0
            ? (old & 0xFFFF_FFFF) | (ulong)(data & RedirectionEntry.DestinationHighMask) << 32
            : (old & ~0xFFFF_FFFFUL) | (data & RedirectionEntry.WritableLowMask) | (old & RedirectionEntry.ReadOnlyBits);
        // Linux (and Xen) clear a stuck Remote IRR of a version-0x11 IOAPIC, which has no EOI register, by
        // switching the entry to edge and back (io_apic.c, __eoi_ioapic_pin); KVM drops Remote IRR on edge too.
        if ((entry & RedirectionEntry.LevelTriggered) == 0)
            entry &= ~RedirectionEntry.RemoteIrr;
        _entries[pin] = entry;
        // An unmasked level entry whose line is still asserted fires now (§3.2.4, Remote IRR clear).
        ServiceLevel(pin);
    }

    private static bool TryEntryIndex(byte register, out int pin)
    {
        pin = (register - RedirectionTableStart) >> 1;
        return register >= RedirectionTableStart && pin < PinCount;
    }

    /// <summary>Drives pin <paramref name="pin"/>; out-of-range pins are ignored.</summary>
    public void SetPin(int pin, bool high)
    {
        if ((uint)pin >= PinCount)
            return;
        uint bit = 1u << pin;
        bool wasHigh = (_lineLevels & bit) != 0;
        _lineLevels = high ? _lineLevels | bit : _lineLevels & ~bit;
        ulong entry = _entries[pin];
        if ((entry & RedirectionEntry.LevelTriggered) != 0)
            ServiceLevel(pin);
        else if (high && !wasHigh && (entry & RedirectionEntry.Mask) == 0)
            Deliver(entry);   // §3.2.4: a masked edge is lost, not held pending
    }

    /// <summary>
    /// A local APIC took an EOI for <paramref name="vector"/>: every level entry with that vector drops
    /// Remote IRR and fires again if its line is still asserted (SDM vol 3 §10.8.5).
    /// </summary>
    public void EndOfInterrupt(byte vector)
    {
        for (int pin = 0; pin < PinCount; pin++)
        {
            ulong entry = _entries[pin];
            if ((byte)entry != vector || (entry & RedirectionEntry.RemoteIrr) == 0)
                continue;
            _entries[pin] = entry & ~RedirectionEntry.RemoteIrr;
            ServiceLevel(pin);
        }
    }

    private void ServiceLevel(int pin)
    {
        ulong entry = _entries[pin];
        if ((entry & (RedirectionEntry.LevelTriggered | RedirectionEntry.Mask | RedirectionEntry.RemoteIrr)) != RedirectionEntry.LevelTriggered
            || (_lineLevels & 1u << pin) == 0)
            return;
        if (Deliver(entry))
            _entries[pin] = entry | RedirectionEntry.RemoteIrr;   // §3.2.4: set when the LAPICs accept it
    }

    private bool Deliver(ulong entry)
    {
        var mode = (ApicDeliveryMode)(entry >> 8 & 7);
        // §3.2.4 lists 011 and 110 as reserved: no message goes out for them.
        if (mode is not (ApicDeliveryMode.Fixed or ApicDeliveryMode.LowestPriority or ApicDeliveryMode.Smi
            or ApicDeliveryMode.Nmi or ApicDeliveryMode.Init or ApicDeliveryMode.ExtInt))
            return false;
        var message = new InterruptMessage(
            Vector: (byte)entry,
            DeliveryMode: mode,
            Destination: (byte)(entry >> 56),
            LogicalDestination: (entry & RedirectionEntry.LogicalDestination) != 0,
            LevelTriggered: (entry & RedirectionEntry.LevelTriggered) != 0);
        _apics.Deliver(message);
        return true;
    }

    public IoApicState SaveState() => new() { Entries = [.. _entries], LineLevels = _lineLevels, Select = _select, Id = _id };

    /// <summary>Loads a saved IOAPIC; no interrupt is sent (one that was due then was delivered before the save).</summary>
    public void RestoreState(IoApicState state)
    {
        StateCheck.NotNull(state, "IoApic");
        var entries = StateCheck.Length(state.Entries, PinCount, "IoApic.Entries");
        for (int pin = 0; pin < PinCount; pin++)
        {
            // Bits 17–55 are reserved; delivery status stays 0 (delivery is immediate); Remote IRR only on level entries.
            ulong entry = entries[pin];
            StateCheck.That((entry & 0x00FF_FFFF_FFFE_1000UL) == 0, $"IoApic.Entries[{pin}]", $"0x{entry:x} sets reserved or read-only bits");
            StateCheck.That((entry & RedirectionEntry.RemoteIrr) == 0 || (entry & RedirectionEntry.LevelTriggered) != 0,
                $"IoApic.Entries[{pin}]", "has Remote IRR on an edge-triggered entry");
        }
        StateCheck.AtMost(state.LineLevels, (1u << PinCount) - 1, "IoApic.LineLevels");
        StateCheck.AtMost(state.Id, 0xF, "IoApic.Id");
        entries.CopyTo(_entries, 0);
        (_lineLevels, _select, _id) = (state.LineLevels, state.Select, state.Id);
    }

    /// <summary>Bits of a redirection table entry (82093AA datasheet §3.2.4).</summary>
    private static class RedirectionEntry
    {
        public const ulong LogicalDestination = 1UL << 11;
        public const ulong DeliveryStatus = 1UL << 12;
        public const ulong RemoteIrr = 1UL << 14;
        public const ulong LevelTriggered = 1UL << 15;
        public const ulong Mask = 1UL << 16;
        /// <summary>Delivery status and Remote IRR are read-only; delivery is immediate, so status stays 0.</summary>
        public const uint ReadOnlyBits = (uint)(DeliveryStatus | RemoteIrr);
        /// <summary>Bits 16:0 of the low half exist (31:17 are reserved), less the read-only ones.</summary>
        public const uint WritableLowMask = 0x1_FFFF & ~ReadOnlyBits;
        /// <summary>Only the destination field (bits 63:56) of the high half exists.</summary>
        public const uint DestinationHighMask = 0xFF00_0000;
    }
}
