using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace KvmSharp.Manager.Networks;

/// <summary>An IPv4 network: its first address and prefix length, with the arithmetic the network XML needs.</summary>
public readonly record struct Ipv4Subnet(uint Network, int Prefix)
{
    public uint Mask => Prefix == 0 ? 0 : uint.MaxValue << (32 - Prefix);
    public uint Broadcast => Network | ~Mask;

    public static Ipv4Subnet Of(IPAddress address, int prefix)
    {
        uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
        return new Ipv4Subnet(ToUInt(address) & mask, prefix);
    }

    public bool Contains(IPAddress address) => (ToUInt(address) & Mask) == Network;

    public bool Overlaps(Ipv4Subnet other)
    {
        uint mask = Prefix < other.Prefix ? Mask : other.Mask;
        return (Network & mask) == (other.Network & mask);
    }

    public override string ToString() => $"{FromUInt(Network)}/{Prefix}";

    public static uint ToUInt(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        if (address.AddressFamily != AddressFamily.InterNetwork || !address.TryWriteBytes(bytes, out _))
            throw new ArgumentException($"{address} is not an IPv4 address", nameof(address));
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    public static IPAddress FromUInt(uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return new IPAddress(bytes);
    }

    /// <summary>A dotted-quad IPv4 address, strictly (four decimal parts, no shorthand as IPAddress.Parse allows); null otherwise.</summary>
    public static IPAddress? ParseAddress(string text)
    {
        var parts = text.Split('.');
        if (parts.Length != 4) return null;
        Span<byte> bytes = stackalloc byte[4];
        for (int i = 0; i < 4; i++)
        {
            if (parts[i].Length is 0 or > 3 || !parts[i].All(char.IsAsciiDigit)) return null;
            int value = int.Parse(parts[i], System.Globalization.CultureInfo.InvariantCulture);
            if (value > 255) return null;
            bytes[i] = (byte)value;
        }
        return new IPAddress(bytes);
    }

    /// <summary>The prefix length of a contiguous netmask (255.255.255.0 → 24); null for one with holes.</summary>
    public static int? PrefixOfNetmask(IPAddress netmask)
    {
        uint mask = ToUInt(netmask);
        int prefix = System.Numerics.BitOperations.PopCount(mask);
        return prefix == 0 ? (mask == 0 ? 0 : null) : (mask == uint.MaxValue << (32 - prefix) ? prefix : null);
    }
}
