using System.CommandLine;
using KvmSharp.Machine.Config;

namespace KvmSharp.Cli.Parsing;

/// <summary>
/// <c>--vsock cid=N,uds=PATH</c>: a virtio-vsock device with Firecracker's Unix-socket convention. Parsing checks
/// the form; <see cref="MachineConfig.Validate"/> checks the CID's range, and the machine builder that PATH's directory exists.
/// </summary>
internal static class VsockOption
{
    private static readonly string[] Keys = ["cid", "uds"];

    public static Option<VsockConfig?> Create() => new("--vsock")
    {
        Description = "A virtio-vsock device: guest CID N (3 or more), host side on the Unix socket PATH (host programs connect there and write \"CONNECT <port>\\n\"; guest connections to port P go to PATH_P)",
        HelpName = "cid=N,uds=PATH",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (TryParse(text, out var config, out string error)) return config;
            result.AddError($"--vsock: {error}");
            return null;
        },
    };

    private static bool TryParse(string text, out VsockConfig? config, out string error)
    {
        config = null;
        if (!DeviceOptionList.TryParse(text, Keys, out var options, out error)) return false;
        if (options.Positional is { } positional) { error = $"'{positional}' is not key=value; use cid=N,uds=PATH"; return false; }
        string? cid = options.Get("cid"), uds = options.Get("uds");
        if (cid is null || string.IsNullOrEmpty(uds)) { error = "needs both cid=N and uds=PATH"; return false; }
        if (!ValueParsers.TryParseNumber(cid, out ulong value) || value > uint.MaxValue) { error = $"cid '{cid}' is not a 32-bit number"; return false; }
        config = new VsockConfig((uint)value, Path.GetFullPath(uds));
        return true;
    }
}
