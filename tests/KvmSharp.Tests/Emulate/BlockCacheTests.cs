using KvmSharp.Accelerators.Emulate.Cpu;
using KvmSharp.Memory;

namespace KvmSharp.Tests.Emulate;

/// <summary>The decoded-block cache keeps only live blocks, however often the same code is reached at another address.</summary>
public class BlockCacheTests
{
    [Fact]
    public void TheSameCodeDecodedAtManyRipsKeepsOneBlockPerPage()
    {
        using var memory = GuestMemory.Create(2 << 20);
        var cache = new BlockCache(new PhysicalMemory(memory));
        byte[] code = [0x90, 0x90, 0xC3];   // nop; nop; ret
        const ulong Physical = 0x8000;

        // One shared library page run by 1000 processes, each with it at another virtual address (ASLR).
        for (ulong process = 0; process < 1000; process++)
        {
            ulong rip = 0x7f00_0000_0000 + (process << 20);
            var block = cache.Decode(code, code.Length, rip, Physical, nextPagePhysical: null, bitness: 64);
            Assert.Same(block, cache.Find(Physical, rip, 64));
        }

        Assert.Equal(1, cache.PageEntryCount);
        Assert.Null(cache.Find(Physical, 0x7f00_0000_0000, 64));   // the first process's block was replaced
    }
}
