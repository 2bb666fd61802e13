using System.CommandLine;

namespace KvmSharp.Cli.Parsing;

/// <summary><c>--cloud-init user-data=FILE[,meta-data=FILE]</c>: the files of a NoCloud seed the run attaches as a read-only disk.</summary>
internal static class CloudInitOption
{
    private static readonly string[] Keys = ["user-data", "meta-data"];

    public static Option<(string UserData, string? MetaData)?> Create() => new("--cloud-init")
    {
        Description = "Attach a cloud-init NoCloud seed (an ISO labelled cidata, as a read-only disk after the others) made from these files; a cloud image configures itself from it on first boot",
        HelpName = "user-data=FILE[,meta-data=FILE]",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (!DeviceOptionList.TryParse(text, Keys, out var options, out string error))
            {
                result.AddError($"--cloud-init: {error}");
                return null;
            }
            if (options.Positional is not null || options.Get("user-data") is not { Length: > 0 } userData)
            {
                result.AddError("--cloud-init: needs user-data=FILE (and optionally meta-data=FILE)");
                return null;
            }
            return (Path.GetFullPath(userData), options.Get("meta-data") is { Length: > 0 } meta ? Path.GetFullPath(meta) : null);
        },
    };
}
