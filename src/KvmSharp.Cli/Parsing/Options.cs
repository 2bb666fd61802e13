using System.CommandLine;
using KvmSharp.Machine.Config;

namespace KvmSharp.Cli.Parsing;

/// <summary>Builds System.CommandLine options whose values go through <see cref="ValueParsers"/>.</summary>
internal static class Options
{
    /// <summary>A size option; absent means the caller's default (named in the description, not printed as bytes).</summary>
    public static Option<ulong?> Size(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "SIZE",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (ValueParsers.TryParseSize(text, out ulong bytes)) return bytes;
            result.AddError($"{name}: '{text}' is not a size; use a number with K, M or G (e.g. 512M, 2G, 0x10000000)");
            return null;
        },
    };

    public static Option<ulong?> OptionalNumber(string name, string description, ulong max) => new(name)
    {
        Description = description,
        HelpName = "N",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (ValueParsers.TryParseNumber(text, out ulong value) && value <= max) return value;
            result.AddError($"{name}: '{text}' is not a number from 0 to 0x{max:x} (decimal or 0x-hex)");
            return null;
        },
    };

    public static Option<int> Count(string name, string description, int defaultValue, int max) => new(name)
    {
        Description = description,
        HelpName = "N",
        DefaultValueFactory = _ => defaultValue,
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (ValueParsers.TryParseNumber(text, out ulong value) && value >= 1 && value <= (ulong)max) return (int)value;
            result.AddError($"{name}: '{text}' is not a number from 1 to {max}");
            return defaultValue;
        },
    };

    public static Option<ConsoleConfig?> Console() =>
        ConsoleEnd("--console", "Where COM1 goes: stdio (the default; raw mode on a terminal, Ctrl-A x quits), pty, socket:PATH, or none");

    /// <summary>
    /// <c>--virtio-console</c>: a virtio console (the guest's /dev/hvc0) on the same kinds of host end as
    /// <c>--console</c>; only one of the two may have stdio (checked in MachineConfig).
    /// </summary>
    public static Option<ConsoleConfig?> VirtioConsole() =>
        ConsoleEnd("--virtio-console", "Add a virtio console (the guest's hvc0) on stdio, pty, socket:PATH or none (output discarded); use --console none (or pty/socket) with stdio here");

    /// <summary>A console host end: stdio, pty, socket:PATH or none.</summary>
    private static Option<ConsoleConfig?> ConsoleEnd(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "stdio|pty|socket:PATH|none",
        CustomParser = result =>
        {
            string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (ValueParsers.TryParseConsole(text, out var console)) return console;
            result.AddError($"{name}: '{text}' is not one of stdio, pty, none, socket:PATH");
            return null;
        },
    };
}
