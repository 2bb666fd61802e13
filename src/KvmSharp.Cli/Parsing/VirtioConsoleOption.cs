using System.CommandLine;
using KvmSharp.Machine.Config;

namespace KvmSharp.Cli.Parsing;

/// <summary>
/// <c>--virtio-console stdio|pty|socket:PATH|none</c>: a virtio console (the guest's /dev/hvc0) on the same
/// kinds of host end as <c>--console</c>; only one of the two may have stdio (checked in MachineConfig).
/// </summary>
internal static class VirtioConsoleOption
{
    public static Option<ConsoleConfig?> Create() => new("--virtio-console")
    {
        Description = "Add a virtio console (the guest's hvc0) on stdio, pty, socket:PATH or none (output discarded); use --console none (or pty/socket) with stdio here",
        HelpName = "stdio|pty|socket:PATH|none",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (ValueParsers.TryParseConsole(text, out var console)) return console;
            result.AddError($"--virtio-console: '{text}' is not one of stdio, pty, none, socket:PATH");
            return null;
        },
    };
}
