using KvmSharp.Memory;
using KvmSharp.Native.X86;

namespace KvmSharp.Boot.Cpu;

/// <summary>Writes the boot GDT and an empty IDT (Intel SDM vol 3 §3.5.1, §6.10).</summary>
internal static class BootGdt
{
    /// <summary>Execute/read, accessed (SDM vol 3 §3.4.5.1, table 3-1). Accessed is preset so the CPU never writes the GDT.</summary>
    public const byte CodeType = 0xB;

    /// <summary>Read/write, accessed.</summary>
    public const byte DataType = 0x3;

    /// <summary>Writes null, null, <paramref name="code"/>, <paramref name="data"/> at BootGdt and returns GDTR.</summary>
    public static DescriptorTable Write(GuestMemory memory, in Segment code, in Segment data)
    {
        var gdt = new GuestAddress(MemoryMap.BootGdt);
        memory.Write(gdt, 0UL);
        memory.Write(gdt + 8, 0UL);
        memory.Write(gdt + BootSelectors.Code, code.ToDescriptor());
        memory.Write(gdt + BootSelectors.Data, data.ToDescriptor());
        return new DescriptorTable { Base = MemoryMap.BootGdt, Limit = BootSelectors.GdtEntries * 8 - 1 };
    }

    /// <summary>
    /// One zero gate at BootIdt: interrupts are off at entry and any exception before the kernel loads its own
    /// IDT should shut the guest down (a visible triple fault) rather than jump somewhere random.
    /// </summary>
    public static DescriptorTable WriteEmptyIdt(GuestMemory memory)
    {
        memory.Write(new GuestAddress(MemoryMap.BootIdt), 0UL);
        return new DescriptorTable { Base = MemoryMap.BootIdt, Limit = 7 };
    }
}
