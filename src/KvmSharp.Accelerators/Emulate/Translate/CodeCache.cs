using KvmSharp.Native.Libc;

namespace KvmSharp.Accelerators.Emulate.Translate;

/// <summary>
/// Executable memory for one vCPU's translated blocks: bump allocation, and when it is full everything is
/// dropped at once (QEMU's tb_flush): the <see cref="Generation"/> goes up, so every <see cref="CompiledBlock"/>
/// of an older generation is known stale by one compare, and nothing is freed block by block. Only the owning
/// vCPU's thread writes or runs code here.
/// </summary>
public sealed unsafe class CodeCache : IDisposable
{
    public const int DefaultSize = 32 << 20;
    private readonly ExecutableMemory _memory;
    private readonly int _size;
    private int _used;

    public CodeCache(int size = DefaultSize)
    {
        _size = (size + 0xFFF) & ~0xFFF;
        _memory = ExecutableMemory.Create((nuint)_size);
    }

    /// <summary>Bumped by every flush; blocks compiled in an older generation must not run.</summary>
    public int Generation { get; private set; }

    public int BytesUsed => _used;

    public int Size => _size;

    public bool DualMapped => _memory.DualMapped;

    /// <summary>
    /// Reserves <paramref name="length"/> bytes and returns where they run; false when the cache is full (the caller
    /// flushes and tries again) or the request can never fit.
    /// </summary>
    public bool TryReserve(int length, out nint executeAddress)
    {
        int start = (_used + 15) & ~15;   // 16-byte aligned entries
        if (length <= 0 || start > _size - length)
        {
            executeAddress = 0;
            return false;
        }
        _used = start + length;
        executeAddress = _memory.ExecuteAddress + start;
        return true;
    }

    /// <summary>Writes code at a reserved execute address (through the write view when dual-mapped).</summary>
    public void Write(nint executeAddress, ReadOnlySpan<byte> code)
    {
        nint offset = executeAddress - _memory.ExecuteAddress;
        if (offset < 0 || offset + code.Length > _size) throw new ArgumentOutOfRangeException(nameof(executeAddress));
        code.CopyTo(new Span<byte>((byte*)(_memory.WriteAddress + offset), code.Length));
    }

    /// <summary>Forgets every block: all space is free again and all earlier translations are stale.</summary>
    public void Flush()
    {
        _used = 0;
        Generation++;
    }

    public void Dispose() => _memory.Dispose();
}
