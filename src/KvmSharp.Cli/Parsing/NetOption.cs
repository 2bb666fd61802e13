using System.CommandLine;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.Machine.Config;
using KvmSharp.Native.Net;

namespace KvmSharp.Cli.Parsing;

/// <summary>
/// <c>--net tap=NAME[,mac=MAC]</c> or <c>--net user[,hostfwd=…][,mac=MAC]</c>, repeatable: one virtio-net NIC per
/// occurrence, on a host tap device or on user networking through passt (hostfwd as QEMU writes it, repeatable).
/// </summary>
public static class NetOption
{
    // boot=N is read so that validation can say why a NIC cannot boot, instead of "unknown key".
    private static readonly string[] TapKeys = ["tap", "mac", RateOption.Bytes, BootIndexOption.Key];
    private static readonly string[] UserKeys = ["mac", RateOption.Bytes, BootIndexOption.Key];
    private const string HostForwardKey = "hostfwd=";

    internal static Option<List<NetConfig>> Create() => new("--net")
    {
        Description = "A virtio-net NIC; repeatable. tap=NAME: on host tap device NAME (opened, or created when we have CAP_NET_ADMIN). " +
                      "user: user networking through passt, no privileges needed (DHCP gives the guest the host's address; " +
                      "the gateway's address reaches the host's loopback); hostfwd=tcp:127.0.0.1:2222-:22 passes a host port to the guest (repeatable). " +
                      "mac=52:54:00:12:34:56 sets its address (default: a stable one made from NAME, or from the NIC's place); " +
                      "bps=N limits each direction to N bytes per second (K/M/G suffixes)",
        HelpName = "tap=NAME[,mac=MAC][,bps=N] | user[,hostfwd=tcp:[ADDR]:PORT-:PORT][,mac=MAC][,bps=N]",
        CustomParser = result =>
        {
            var nets = new List<NetConfig>();
            foreach (var token in result.Tokens)
            {
                if (TryParse(token.Value, out var net, out string error)) nets.Add(net);
                else result.AddError($"--net {token.Value}: {error}");
            }
            return nets;
        },
    };

    public static bool TryParse(string text, out NetConfig net, out string error)
    {
        net = new NetConfig("");
        if (text == "user" || text.StartsWith("user,", StringComparison.Ordinal)) return TryParseUser(text, out net, out error);
        if (!DeviceOptionList.TryParse(text, TapKeys, out var options, out error)) return false;
        string? tap = options.Get("tap");
        if (options.Positional is not null || tap is null) { error = "name the tap device with tap=NAME, or use user networking with 'user'"; return false; }
        if (!TapDevice.IsValidName(tap)) { error = $"'{tap}' is not a network interface name ({TapDevice.NameRule})"; return false; }
        if (!TryParseMac(options, out string? mac, out error)) return false;
        if (!RateOption.TryParse(options, allowOps: false, out var limiter, out error)) return false;
        if (!BootIndexOption.TryParse(options, out int? bootIndex, out error)) return false;
        net = new NetConfig(tap, mac) { RxRateLimiter = limiter, TxRateLimiter = limiter, BootIndex = bootIndex };
        return true;
    }

    private static bool TryParseUser(string text, out NetConfig net, out string error)
    {
        net = new NetConfig("");
        error = "";
        // hostfwd repeats and its value holds no commas: take those items out before the other keys are split.
        var forwards = new List<PortForward>();
        var rest = new List<string>();
        foreach (var item in text.Split(',').Skip(1))
        {
            if (!item.StartsWith(HostForwardKey, StringComparison.Ordinal)) { rest.Add(item); continue; }
            if (!HostForwardSpec.TryParse(item[HostForwardKey.Length..], out var forward, out error)) return false;
            if (forwards.Any(f => f.Protocol == forward.Protocol && f.HostPort == forward.HostPort && f.HostAddress == forward.HostAddress))
            {
                error = $"{item}: that host port is already forwarded";
                return false;
            }
            forwards.Add(forward);
        }
        string? mac = null;
        RateLimiterConfig? limiter = null;
        int? bootIndex = null;
        if (rest.Count > 0)
        {
            if (!DeviceOptionList.TryParse(string.Join(',', rest), UserKeys, out var options, out error)) return false;
            if (options.Positional is not null) { error = $"'{options.Positional}' is not key=value"; return false; }
            if (!TryParseMac(options, out mac, out error)) return false;
            if (!RateOption.TryParse(options, allowOps: false, out limiter, out error)) return false;
            if (!BootIndexOption.TryParse(options, out bootIndex, out error)) return false;
        }
        net = new NetConfig("", mac)
        {
            Backend = NetBackendKind.User, HostForwards = forwards.Count > 0 ? [.. forwards] : null, RxRateLimiter = limiter, TxRateLimiter = limiter,
            BootIndex = bootIndex,
        };
        return true;
    }

    private static bool TryParseMac(DeviceOptionList options, out string? mac, out string error)
    {
        mac = null;
        error = "";
        if (options.Get("mac") is not { } macText) return true;
        if (!MacAddress.TryParse(macText, out var bytes, out error)) return false;
        mac = MacAddress.Format(bytes);
        return true;
    }
}
