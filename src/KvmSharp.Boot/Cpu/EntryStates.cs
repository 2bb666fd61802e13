using KvmSharp.Memory;
using KvmSharp.Native.X86;

namespace KvmSharp.Boot.Cpu;

/// <summary>
/// Builds the two CPU states our loaders start guests in, writing the GDT/IDT (and page tables) they need.
/// Both leave interrupts off (RFLAGS = 0x2) and the general-purpose registers as the caller gives them.
/// </summary>
public static class EntryStates
{
    /// <summary>
    /// 64-bit long mode, as the Linux 64-bit boot protocol wants it (boot.rst, "64-bit Boot Protocol"):
    /// CR0.PE|PG, CR4.PAE, EFER.LME|LMA, CS = __BOOT_CS (64-bit code), DS/ES/SS = __BOOT_DS, identity-mapped
    /// page tables (<see cref="IdentityPageTables"/>), interrupts disabled.
    /// </summary>
    public static BootCpuState LongMode(GuestMemory memory, Registers registers)
    {
        var code = Segment.Flat(BootSelectors.Code, BootGdt.CodeType, code64: true);
        var data = Segment.Flat(BootSelectors.Data, BootGdt.DataType, code64: false);
        var sregs = Common(memory, code, data);
        sregs.Cr3 = IdentityPageTables.Write(memory);
        sregs.Cr4 = SpecialRegisters.Cr4Pae;
        sregs.Cr0 = SpecialRegisters.Cr0ProtectionEnable | SpecialRegisters.Cr0ExtensionType | SpecialRegisters.Cr0Paging;
        sregs.Efer = SpecialRegisters.EferLongModeEnable | SpecialRegisters.EferLongModeActive;
        registers.Rflags = Registers.FlagsReserved;
        return new BootCpuState(registers, sregs);
    }

    /// <summary>
    /// 32-bit flat protected mode with paging off, as multiboot requires (Multiboot 0.6.96 §3.2): CS a 32-bit
    /// read/execute segment, DS/ES/FS/GS/SS read/write, all base 0 limit 4 GiB; CR0.PE set, PG clear;
    /// interrupts disabled. A20 is always on in a KVM guest (there is no A20 gate to close).
    /// </summary>
    public static BootCpuState ProtectedMode(GuestMemory memory, Registers registers)
    {
        var code = Segment.Flat(BootSelectors.Code, BootGdt.CodeType, code64: false);
        var data = Segment.Flat(BootSelectors.Data, BootGdt.DataType, code64: false);
        var sregs = Common(memory, code, data);
        sregs.Cr0 = SpecialRegisters.Cr0ProtectionEnable | SpecialRegisters.Cr0ExtensionType;
        registers.Rflags = Registers.FlagsReserved;
        return new BootCpuState(registers, sregs);
    }

    private static SpecialRegisters Common(GuestMemory memory, in Segment code, in Segment data)
    {
        var sregs = new SpecialRegisters
        {
            Gdt = BootGdt.Write(memory, code, data),
            Idt = BootGdt.WriteEmptyIdt(memory),
            Cs = code,
            Ds = data, Es = data, Fs = data, Gs = data, Ss = data,
            // VM entry needs a usable TR: a busy 32-bit TSS (type 11) with S = 0 (Intel SDM vol 3 §27.3.1.2).
            // Nothing uses it before the kernel loads its own.
            Tr = new Segment { Limit = 0xFFFF, Type = 11, Present = 1 },
            // An LDT descriptor (type 2) marked unusable: no LDT.
            Ldt = new Segment { Limit = 0xFFFF, Type = 2, Present = 1, Unusable = 1 },
        };
        return sregs;
    }
}
