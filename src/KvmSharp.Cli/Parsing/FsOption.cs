using System.CommandLine;
using KvmSharp.Machine.Config;

namespace KvmSharp.Cli.Parsing;

/// <summary>
/// <c>--fs tag=NAME,path=DIR[,readonly=on]</c>, repeatable: a host folder shared with virtio-fs, which the guest
/// mounts with <c>mount -t virtiofs NAME /mnt</c>. Parsing checks the form; <see cref="MachineConfig.Validate"/> the
/// tag's length and the machine builder that DIR opens.
/// </summary>
public static class FsOption
{
    private static readonly string[] Keys = ["tag", "path", "readonly"];

    public static Option<FsConfig[]> Create() => new("--fs")
    {
        HelpName = "tag=NAME,path=DIR[,readonly=on]",
        Description = "Share the host folder DIR with the guest over virtio-fs (repeatable; served by kvmsharp itself, jailed to DIR); the guest mounts it with: mount -t virtiofs NAME /mnt",
        Arity = ArgumentArity.ZeroOrMore,
        CustomParser = result =>
        {
            var shares = new List<FsConfig>();
            foreach (var token in result.Tokens)
            {
                if (!TryParse(token.Value, out var share, out string error))
                {
                    result.AddError($"--fs {token.Value}: {error}");
                    return [];
                }
                shares.Add(share!);
            }
            return [.. shares];
        },
    };

    public static bool TryParse(string text, out FsConfig? share, out string error)
    {
        share = null;
        if (!DeviceOptionList.TryParse(text, Keys, out var options, out error)) return false;
        if (options.Positional is { } positional) { error = $"'{positional}' is not key=value; use tag=NAME,path=DIR"; return false; }
        string? tag = options.Get("tag"), path = options.Get("path");
        if (string.IsNullOrEmpty(tag) || string.IsNullOrEmpty(path)) { error = "needs both tag=NAME and path=DIR"; return false; }
        if (!options.TryGetSwitch("readonly", out bool readOnly, out error)) return false;
        share = new FsConfig(tag, Path.GetFullPath(path), readOnly);
        return true;
    }
}
