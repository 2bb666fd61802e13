using KvmSharp.Memory;

namespace KvmSharp.Tests.Memory;

public class GuestMemoryTests
{
    [Fact]
    public void ReadsBackWhatWasWritten()
    {
        using var memory = GuestMemory.Create(4 << 20);
        memory.Write(new GuestAddress(0x1000), 0xDEADBEEFCAFEBABEUL);
        Assert.Equal(0xDEADBEEFCAFEBABEUL, memory.Read<ulong>(new GuestAddress(0x1000)));
        Assert.Equal(0xBE, memory.Read<byte>(new GuestAddress(0x1000)));
    }

    [Fact]
    public void RejectsAccessPastTheEnd()
    {
        using var memory = GuestMemory.Create(4 << 20);
        Assert.Throws<GuestMemoryException>(() => memory.Read<uint>(new GuestAddress((4 << 20) - 2)));
        Assert.False(memory.TryGetSpan(new GuestAddress(4 << 20), 1, out _));
        Assert.True(memory.TryGetSpan(new GuestAddress((4 << 20) - 1), 1, out _));
    }

    [Fact]
    public void RejectsOverflowingAddressArithmetic()
    {
        using var memory = GuestMemory.Create(4 << 20);
        Assert.False(memory.IsValidRange(new GuestAddress(ulong.MaxValue - 1), 16));
        Assert.False(memory.TryGetSpan(new GuestAddress(0x1000), -1, out _));
        Assert.Null(new GuestAddress(ulong.MaxValue).CheckedAdd(1));
    }

    [Fact]
    public void LaysOutRamAroundThePciHole()
    {
        var ranges = MemoryMap.RamRanges(4UL << 30);
        Assert.Equal(2, ranges.Count);
        Assert.Equal(MemoryMap.PciHoleStart, ranges[0].Size);
        Assert.Equal(new GuestAddress(MemoryMap.PciHoleEnd), ranges[1].Start);
        Assert.Equal(1UL << 30, ranges[1].Size);
    }

    [Fact]
    public void AccessMayNotStraddleTwoRegions()
    {
        using var memory = GuestMemory.Create((3UL << 30) + (4 << 20));
        Assert.True(memory.IsValidRange(new GuestAddress(MemoryMap.PciHoleEnd), 8));
        Assert.False(memory.IsValidRange(new GuestAddress(MemoryMap.PciHoleStart - 4), 8));
        Assert.False(memory.IsValidRange(new GuestAddress(MemoryMap.PciHoleStart), 1));
    }
}
