namespace KvmSharp.Memory;

/// <summary>An access outside guest RAM, or one whose address arithmetic overflowed. Guest input, never a host bug.</summary>
public sealed class GuestMemoryException(GuestAddress address, ulong length)
    : Exception($"guest memory access of {length} byte(s) at {address} is outside guest RAM")
{
    public GuestAddress Address { get; } = address;
    public ulong Length { get; } = length;
}
