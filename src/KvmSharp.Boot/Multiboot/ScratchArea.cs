using System.Text;
using KvmSharp.Memory;

namespace KvmSharp.Boot.Multiboot;

/// <summary>
/// A bump allocator over [<see cref="MemoryMap.MultibootScratch"/>, <see cref="MemoryMap.EbdaStart"/>) for the
/// strings and tables the multiboot info points at. Running out is a user error (a huge command line or
/// too many modules), reported as such.
/// </summary>
internal sealed class ScratchArea(GuestMemory memory)
{
    private ulong _next = MemoryMap.MultibootScratch;

    /// <summary>Reserves <paramref name="size"/> bytes aligned to <paramref name="alignment"/> and returns their address.</summary>
    public uint Allocate(ulong size, ulong alignment)
    {
        ulong start = (_next + alignment - 1) & ~(alignment - 1);
        if (size > MemoryMap.EbdaStart - start)
            throw new BootImageException(
                $"multiboot command lines, module strings and memory map need more than the {(MemoryMap.EbdaStart - MemoryMap.MultibootScratch) >> 10} KiB KvmSharp keeps for them; shorten the command lines or pass fewer modules");
        _next = start + size;
        return (uint)start;
    }

    /// <summary>Writes a NUL-terminated UTF-8 string and returns its address.</summary>
    public uint WriteString(string text, string what)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.AsSpan().IndexOf((byte)0) >= 0)
            throw new BootImageException($"{what} contains a NUL character; remove it");
        uint at = Allocate((ulong)bytes.Length + 1, 1);
        memory.WriteCString(new GuestAddress(at), bytes);
        return at;
    }
}
