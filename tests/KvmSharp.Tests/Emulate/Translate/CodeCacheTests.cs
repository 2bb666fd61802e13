using KvmSharp.Accelerators.Emulate.Translate;
using KvmSharp.Native.Libc;

namespace KvmSharp.Tests.Emulate.Translate;

/// <summary>Executable memory in both forms (one RWX mapping, a dual RW/RX memfd mapping) and the cache's flush when full.</summary>
public unsafe class CodeCacheTests
{
    // mov eax, imm32; ret
    private static byte[] ReturnConstant(int value) => [0xB8, (byte)value, (byte)(value >> 8), (byte)(value >> 16), (byte)(value >> 24), 0xC3];

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void CodeWrittenThroughTheWriteViewRunsFromTheExecuteView(bool allowWritableExecutable)
    {
        using var memory = ExecutableMemory.Create(0x1000, allowWritableExecutable);
        Assert.Equal(!allowWritableExecutable, memory.DualMapped);
        var code = ReturnConstant(0x1234567);
        code.CopyTo(new Span<byte>((byte*)memory.WriteAddress, code.Length));
        Assert.Equal(0x1234567, ((delegate* unmanaged<int>)memory.ExecuteAddress)());
        // Rewritten in place (the dual mapping shares the pages): the new code runs.
        ReturnConstant(42).CopyTo(new Span<byte>((byte*)memory.WriteAddress, code.Length));
        Assert.Equal(42, ((delegate* unmanaged<int>)memory.ExecuteAddress)());
    }

    [Fact]
    public void AFullCacheRefusesUntilFlushedAndTheFlushMakesOlderCodeStale()
    {
        using var cache = new CodeCache(0x1000);
        int generation = cache.Generation;
        var code = ReturnConstant(7);
        int reserved = 0;
        while (cache.TryReserve(100, out nint at))
        {
            cache.Write(at, code);
            Assert.Equal(7, ((delegate* unmanaged<int>)at)());
            reserved++;
        }
        Assert.Equal(0x1000 / 112 + (0x1000 % 112 >= 100 ? 1 : 0), reserved);   // 16-byte aligned slots of 100 bytes
        cache.Flush();
        Assert.Equal(generation + 1, cache.Generation);
        Assert.True(cache.TryReserve(100, out _));
        Assert.False(cache.TryReserve(0x2000, out _));   // never fits
    }
}
