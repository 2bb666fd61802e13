using System.Globalization;
using System.Text;

namespace KvmSharp.Devices.Virtio.Net;

/// <summary>Ethernet MAC addresses for a NIC: parsed from aa:bb:cc:dd:ee:ff, or made up from the tap's name.</summary>
public static class MacAddress
{
    public const int Length = 6;

    /// <summary>
    /// Six hex pairs separated by ':' (or '-'). A NIC's own address must be unicast (IEEE 802 bit 0 of the first
    /// octet clear) and not all zero.
    /// </summary>
    public static bool TryParse(string text, out byte[] mac, out string error)
    {
        mac = new byte[Length];
        error = "";
        string[] parts = text.Split(text.Contains('-') ? '-' : ':');
        bool ok = parts.Length == Length;
        for (int i = 0; ok && i < Length; i++)
            ok = parts[i].Length == 2 && byte.TryParse(parts[i], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out mac[i]);
        if (!ok) error = $"'{text}' is not a MAC address like 52:54:00:12:34:56";
        else if ((mac[0] & 1) != 0) error = $"{text} is a multicast address; a NIC needs a unicast one (first octet even)";
        else if (mac.All(b => b == 0)) error = "00:00:00:00:00:00 is not a usable MAC address";
        return error.Length == 0;
    }

    /// <summary>
    /// A stable address for <paramref name="tapName"/>: FNV-1a of the name, with the first octet made locally
    /// administered unicast (bit 1 set, bit 0 clear; IEEE 802-2014 §8.2.2), so the same tap gets the same MAC each run.
    /// </summary>
    public static byte[] FromName(string tapName)
    {
        ulong hash = 0xCBF29CE484222325;
        foreach (byte b in Encoding.UTF8.GetBytes(tapName))
            hash = (hash ^ b) * 0x100000001B3;
        var mac = new byte[Length];
        for (int i = 0; i < Length; i++) mac[i] = (byte)(hash >> (8 * i));
        mac[0] = (byte)((mac[0] & 0xFC) | 0x02);
        return mac;
    }

    public static string Format(ReadOnlySpan<byte> mac) => string.Join(':', mac.ToArray().Select(b => b.ToString("x2", CultureInfo.InvariantCulture)));
}
