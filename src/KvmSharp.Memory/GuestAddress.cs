namespace KvmSharp.Memory;

/// <summary>A guest-physical address. Its own type so it is never confused with a host pointer or a length.</summary>
public readonly record struct GuestAddress(ulong Value) : IComparable<GuestAddress>
{
    /// <summary>This address plus <paramref name="offset"/>, or null when the sum overflows 64 bits.</summary>
    public GuestAddress? CheckedAdd(ulong offset) =>
        Value > ulong.MaxValue - offset ? null : new GuestAddress(Value + offset);

    public static GuestAddress operator +(GuestAddress address, ulong offset) =>
        new(checked(address.Value + offset));

    public int CompareTo(GuestAddress other) => Value.CompareTo(other.Value);

    public override string ToString() => $"0x{Value:x}";
}
