using System.Globalization;
using KvmSharp.Machine.Config;

namespace KvmSharp.Cli.Parsing;

/// <summary>
/// QEMU's hostfwd (qemu(1), -netdev user): <c>tcp|udp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT</c>, the protocol
/// tcp when left out. passt forwards to the guest's one address, so a guest address is refused rather than ignored.
/// </summary>
public static class HostForwardSpec
{
    public static bool TryParse(string text, out PortForward forward, out string error)
    {
        forward = new PortForward(ForwardProtocol.Tcp, 0, 0);
        error = "";
        int dash = text.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0) { error = $"hostfwd={text}: write it as tcp:[HOSTADDR]:HOSTPORT-[GUESTADDR]:GUESTPORT"; return false; }
        string host = text[..dash], guest = text[(dash + 1)..];

        // Host side: PROTO:ADDR:PORT, with PROTO and ADDR each optional but the colons kept (QEMU's syntax).
        var protocol = ForwardProtocol.Tcp;
        int colon = host.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0) { error = $"hostfwd={text}: the host side '{host}' should be tcp:[ADDR]:PORT"; return false; }
        string first = host[..colon];
        if (first is "tcp" or "udp")
        {
            protocol = first == "udp" ? ForwardProtocol.Udp : ForwardProtocol.Tcp;
            host = host[(colon + 1)..];
        }
        else if (first.Length > 0) { error = $"hostfwd={text}: '{first}' is not tcp or udp"; return false; }
        else host = host[1..];
        if (!SplitAddressAndPort(host, out string? hostAddress, out int hostPort, out error, "host", text)) return false;
        if (hostAddress is not null && !NetForwardRules.IsAddress(hostAddress))
        {
            error = $"hostfwd={text}: '{hostAddress}' is not an IPv4 or IPv6 address";
            return false;
        }
        if (!SplitAddressAndPort(guest, out string? guestAddress, out int guestPort, out error, "guest", text)) return false;
        if (guestAddress is not null)
        {
            error = $"hostfwd={text}: passt forwards to the guest's own address; leave the guest address out (-:{guestPort})";
            return false;
        }
        forward = new PortForward(protocol, hostPort, guestPort, hostAddress);
        return true;
    }

    /// <summary>"[ADDR]:PORT" (ADDR may be empty; an IPv6 one in brackets) into its parts; PORT 1-65535.</summary>
    private static bool SplitAddressAndPort(string text, out string? address, out int port, out string error, string side, string whole)
    {
        address = null;
        port = 0;
        error = "";
        int colon = text.LastIndexOf(':');
        if (colon < 0) { error = $"hostfwd={whole}: the {side} side '{text}' should be [ADDR]:PORT"; return false; }
        string addressText = text[..colon], portText = text[(colon + 1)..];
        if (addressText.StartsWith('[') && addressText.EndsWith(']')) addressText = addressText[1..^1];
        address = addressText.Length == 0 ? null : addressText;
        if (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535)
        {
            error = $"hostfwd={whole}: {side} port '{portText}' is not a port (1-65535)";
            return false;
        }
        return true;
    }
}
