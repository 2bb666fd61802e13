using System.CommandLine;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Machine.Config;
using KvmSharp.Native.Net;

namespace KvmSharp.Cli.Parsing;

/// <summary><c>--net tap=NAME[,mac=MAC]</c>, repeatable: one virtio-net NIC per occurrence, on a host tap device.</summary>
public static class NetOption
{
    private static readonly string[] Keys = ["tap", "mac", RateOption.Bytes];

    internal static Option<List<NetConfig>> Create() => new("--net")
    {
        Description = "A virtio-net NIC on host tap device NAME (opened, or created when we have CAP_NET_ADMIN); repeatable. " +
                      "mac=52:54:00:12:34:56 sets its address (default: a stable one made from NAME); " +
                      "bps=N limits each direction to N bytes per second (K/M/G suffixes)",
        HelpName = "tap=NAME[,mac=MAC][,bps=N]",
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
        if (!DeviceOptionList.TryParse(text, Keys, out var options, out error)) return false;
        string? tap = options.Get("tap");
        if (options.Positional is not null || tap is null) { error = "name the tap device with tap=NAME"; return false; }
        if (!TapDevice.IsValidName(tap)) { error = $"'{tap}' is not a network interface name ({TapDevice.NameRule})"; return false; }
        string? mac = null;
        if (options.Get("mac") is { } macText)
        {
            if (!MacAddress.TryParse(macText, out var bytes, out error)) return false;
            mac = MacAddress.Format(bytes);
        }
        if (!RateOption.TryParse(options, allowOps: false, out var limiter, out error)) return false;
        net = new NetConfig(tap, mac) { RxRateLimiter = limiter, TxRateLimiter = limiter };
        return true;
    }
}
