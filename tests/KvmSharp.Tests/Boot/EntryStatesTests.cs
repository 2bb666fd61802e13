using KvmSharp.Boot.Cpu;
using KvmSharp.Memory;
using KvmSharp.Native.X86;

namespace KvmSharp.Tests.Boot;

public class EntryStatesTests
{
    [Fact]
    public void LongModeHasPagingPaeEferAndBootSelectors()
    {
        using var memory = GuestMemory.Create(8 << 20);
        var state = EntryStates.LongMode(memory, new Registers { Rip = 0x100200 });
        var s = state.SpecialRegisters;
        Assert.Equal(0x100200UL, state.Registers.Rip);
        Assert.Equal(Registers.FlagsReserved, state.Registers.Rflags);
        Assert.NotEqual(0UL, s.Cr0 & SpecialRegisters.Cr0ProtectionEnable);
        Assert.NotEqual(0UL, s.Cr0 & SpecialRegisters.Cr0Paging);
        Assert.Equal(SpecialRegisters.Cr4Pae, s.Cr4);
        Assert.Equal(SpecialRegisters.EferLongModeEnable | SpecialRegisters.EferLongModeActive, s.Efer);
        Assert.Equal(MemoryMap.PageTablePml4, s.Cr3);
        Assert.Equal((ushort)0x10, s.Cs.Selector);
        Assert.Equal(1, s.Cs.Long);
        Assert.Equal(0, s.Cs.DefaultSize);
        Assert.Equal((ushort)0x18, s.Ds.Selector);
        Assert.Equal((ushort)0x18, s.Ss.Selector);
        Assert.Equal(MemoryMap.BootGdt, s.Gdt.Base);
        Assert.Equal((ushort)31, s.Gdt.Limit);
        Assert.Equal(0UL, memory.Read<ulong>(new GuestAddress(MemoryMap.BootGdt)));
        Assert.Equal(s.Cs.ToDescriptor(), memory.Read<ulong>(new GuestAddress(MemoryMap.BootGdt + 0x10)));
        Assert.Equal(s.Ds.ToDescriptor(), memory.Read<ulong>(new GuestAddress(MemoryMap.BootGdt + 0x18)));
        Assert.Equal(0x00AF_9B00_0000_FFFFUL, s.Cs.ToDescriptor());
        Assert.Equal(0x00CF_9300_0000_FFFFUL, s.Ds.ToDescriptor());
    }

    [Theory]
    [InlineData(0x0UL)]
    [InlineData(0x100000UL)]
    [InlineData(0x8000_0000UL)]
    [InlineData(0xFFFF_F123UL)]
    public void PageTablesIdentityMapTheFirstFourGigabytes(ulong address)
    {
        using var memory = GuestMemory.Create(8 << 20);
        EntryStates.LongMode(memory, default);
        Assert.Equal(address, Translate(memory, MemoryMap.PageTablePml4, address));
    }

    /// <summary>A 4-level walk that ends in a 2 MiB page (Intel SDM vol 3 §4.5.4).</summary>
    private static ulong Translate(GuestMemory memory, ulong cr3, ulong linear)
    {
        const ulong frame = 0x000F_FFFF_FFFF_F000;
        ulong pml4e = memory.Read<ulong>(new GuestAddress(cr3 + ((linear >> 39) & 511) * 8));
        Assert.Equal(3UL, pml4e & 3);
        ulong pdpte = memory.Read<ulong>(new GuestAddress((pml4e & frame) + ((linear >> 30) & 511) * 8));
        Assert.Equal(3UL, pdpte & 3);
        ulong pde = memory.Read<ulong>(new GuestAddress((pdpte & frame) + ((linear >> 21) & 511) * 8));
        Assert.Equal(0x83UL, pde & 0x83);
        return (pde & 0x000F_FFFF_FFE0_0000) | (linear & 0x1F_FFFF);
    }
}
