using KvmSharp.Memory;

namespace KvmSharp.Boot;

/// <summary>Loader helpers over <see cref="GuestMemory"/> for ranges longer than one span can hold.</summary>
internal static class GuestMemoryExtensions
{
    private const int Chunk = 1 << 30;

    /// <summary>Zeroes [address, address+length), in chunks; the caller has checked the whole range.</summary>
    public static void ClearRange(this GuestMemory memory, GuestAddress address, ulong length)
    {
        while (length != 0)
        {
            int n = (int)Math.Min(length, Chunk);
            memory.Clear(address, n);
            address += (ulong)n;
            length -= (ulong)n;
        }
    }

    /// <summary>Writes a NUL-terminated string and returns the bytes written (terminator included).</summary>
    public static int WriteCString(this GuestMemory memory, GuestAddress address, ReadOnlySpan<byte> text)
    {
        memory.Write(address, text);
        memory.Write(address + (ulong)text.Length, (byte)0);
        return text.Length + 1;
    }
}
