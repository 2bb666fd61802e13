using System.Net;

namespace KvmSharp.Machine.Config;

/// <summary>What a user-networking NIC (<see cref="NetBackendKind.User"/>) may say: no tap, and port forwards that passt can set up.</summary>
public static class NetForwardRules
{
    /// <summary>Adds a problem (field, message) for each mistake in <paramref name="net"/>, a NIC at <paramref name="field"/>.</summary>
    internal static void Check(NetConfig net, string field, Action<string, string> add)
    {
        if (!Enum.IsDefined(net.Backend))
        {
            add($"{field}.backend", $"{(int)net.Backend} is not one of tap, user");
            return;
        }
        if (net.Tap.Length > 0)
            add($"{field}.tap", $"user networking has no tap (give tap '{Quote(net.Tap)}' with backend tap, or leave it out)");
        if (net.HostForwards is not { } forwards) return;
        var seen = new HashSet<(ForwardProtocol, string, int)>();
        for (int f = 0; f < forwards.Count; f++)
        {
            var forward = forwards[f];
            string at = $"{field}.host_forwards[{f}]";
            if (!Enum.IsDefined(forward.Protocol)) add($"{at}.protocol", $"{(int)forward.Protocol} is not one of tcp, udp");
            if (forward.HostPort is < 1 or > 65535) add($"{at}.host_port", $"{forward.HostPort} is not a port (1-65535)");
            if (forward.GuestPort is < 1 or > 65535) add($"{at}.guest_port", $"{forward.GuestPort} is not a port (1-65535)");
            if (forward.HostAddress is { } address && !IsAddress(address))
                add($"{at}.host_address", $"'{Quote(address)}' is not an IPv4 or IPv6 address");
            else if (!seen.Add((forward.Protocol, forward.HostAddress ?? "", forward.HostPort)))
                add($"{at}", $"{forward.Protocol.ToString().ToLowerInvariant()} port {forward.HostPort} of {forward.HostAddress ?? "every address"} is forwarded twice");
        }
    }

    /// <summary>A literal address only: passt binds it as given, and a host name would be resolved nowhere.</summary>
    public static bool IsAddress(string text) =>
        !text.Contains('%', StringComparison.Ordinal) && IPAddress.TryParse(text, out _)
        && (text.Contains(':', StringComparison.Ordinal) || text.Count(c => c == '.') == 3);   // not "1" nor "1.2", which TryParse takes

    private static string Quote(string text) => ConfigProblem.Escape(text);
}
