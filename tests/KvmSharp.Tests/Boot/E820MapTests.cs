using KvmSharp.Boot;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Boot;

public class E820MapTests
{
    [Fact]
    public void SmallGuestHasLowRamReservedHolesAndNoHighRam()
    {
        var map = E820Map.ForRam(64 << 20);
        Assert.Equal(
        [
            new E820Entry(0, MemoryMap.EbdaStart, E820Type.Ram),
            new E820Entry(MemoryMap.EbdaStart, 0x100000 - MemoryMap.EbdaStart, E820Type.Reserved),
            new E820Entry(0x100000, (64 << 20) - 0x100000, E820Type.Ram),
            new E820Entry(MemoryMap.PciEcamStart, MemoryMap.PciEcamSize, E820Type.Reserved),
        ], map.Entries);
        Assert.Equal(64UL << 20, map.LowRamEnd);
        Assert.Equal(0UL, map.HighRamSize);
    }

    [Fact]
    public void LargeGuestSplitsRamAroundThePciHole()
    {
        const ulong size = 5UL << 30;
        var map = E820Map.ForRam(size);
        Assert.Equal(MemoryMap.PciHoleStart, map.LowRamEnd);
        Assert.Equal(5, map.Entries.Count);
        Assert.Equal(new E820Entry(MemoryMap.PciHoleEnd, size - MemoryMap.PciHoleStart, E820Type.Ram), map.Entries[4]);
        Assert.Equal(size, map.Entries.Where(e => e.Type == E820Type.Ram).Aggregate(0UL, (sum, e) => sum + e.Size) + (MemoryMap.KernelStart - MemoryMap.EbdaStart));
        for (int i = 1; i < map.Entries.Count; i++)
            Assert.True(map.Entries[i - 1].End <= map.Entries[i].Address, "entries are sorted and disjoint");
    }

    [Fact]
    public void AcpiTablesLieInAReservedRange()
    {
        var reserved = E820Map.ForRam(64 << 20).Entries.Single(e => e.Address == MemoryMap.EbdaStart);
        Assert.Equal(E820Type.Reserved, reserved.Type);
        Assert.True(reserved.Address <= MemoryMap.AcpiTables && MemoryMap.AcpiTablesEnd <= reserved.End);
    }
}
