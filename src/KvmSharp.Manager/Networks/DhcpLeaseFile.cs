using System.Globalization;
using KvmSharp.Devices.Virtio.Net;

namespace KvmSharp.Manager.Networks;

/// <summary>One DHCP lease as virNetworkGetDHCPLeases gives it (virNetworkDHCPLease): IPv4 only here.</summary>
public sealed record DhcpLease(string Interface, long ExpiryTime, string Mac, string IpAddress, uint Prefix, string? Hostname, string? ClientId);

/// <summary>
/// Reads dnsmasq's lease file: one lease a line, "EXPIRY MAC IP HOSTNAME CLIENTID" (expiry in seconds since the epoch,
/// 0 for an infinite lease; '*' for an unknown host name or client id). The file is written by dnsmasq, which a guest
/// talks to: every line is checked, and one that is not a lease (an IPv6 "duid" line, garbage) is skipped.
/// </summary>
public static class DhcpLeaseFile
{
    /// <summary>More lines than any lease file holds (dhcp-lease-max of a /8 and then some): the rest is not read.</summary>
    private const int MaxLines = 65536;

    public static List<DhcpLease> Parse(IEnumerable<string> lines, string bridge, uint prefix)
    {
        var leases = new List<DhcpLease>();
        foreach (var line in lines.Take(MaxLines))
        {
            var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (f.Length < 4 || f.Length > 5) continue;
            if (!long.TryParse(f[0], NumberStyles.None, CultureInfo.InvariantCulture, out long expiry)) continue;
            if (!MacAddress.TryParse(f[1], out var mac, out _) || mac.Length != 6) continue;
            if (Ipv4Subnet.ParseAddress(f[2]) is not { } ip) continue;
            string? host = f[3] == "*" || f[3].Length > 255 || f[3].Any(char.IsControl) ? null : f[3];
            string? client = f.Length < 5 || f[4] == "*" || f[4].Length > 255 ? null : f[4];
            leases.Add(new DhcpLease(bridge, expiry, MacAddress.Format(mac), ip.ToString(), prefix, host, client));
        }
        return leases;
    }

    public static List<DhcpLease> Read(string path, string bridge, uint prefix)
    {
        try { return File.Exists(path) ? Parse(File.ReadLines(path), bridge, prefix) : []; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }
}
