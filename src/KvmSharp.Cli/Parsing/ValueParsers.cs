using System.Globalization;
using KvmSharp.Machine.Config;

namespace KvmSharp.Cli.Parsing;

/// <summary>Parses the values users type on the command line; each failure is one line that shows the expected form.</summary>
public static class ValueParsers
{
    /// <summary>An unsigned number in decimal or 0x-hex.</summary>
    public static bool TryParseNumber(string text, out ulong value)
    {
        text = text.Trim().Replace("_", "");
        if (text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            return ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value) && text.Length > 2;
        return ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>
    /// A size in bytes. Decimal: a number with an optional K, M, G or T suffix (powers of 1024; "KiB",
    /// "MB" spellings and "B" accepted); a bare decimal number means MiB, as QEMU's -m does.
    /// Hex: 0x-prefixed bytes, optionally followed by one of K, M, G, T.
    /// </summary>
    public static bool TryParseSize(string text, out ulong bytes)
    {
        bytes = 0;
        text = text.Trim();
        bool hex = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase);
        int end = text.Length;
        // In a hex number, trailing hex digits belong to the number, so only K/M/G/T can follow it.
        while (end > 0 && char.IsLetter(text[end - 1]) && !(hex && Uri.IsHexDigit(text[end - 1]))) end--;
        string suffix = text[end..].ToUpperInvariant();
        int shift = suffix switch
        {
            "" => hex ? 0 : 20,
            "B" => 0,
            "K" or "KB" or "KIB" => 10,
            "M" or "MB" or "MIB" => 20,
            "G" or "GB" or "GIB" => 30,
            "T" or "TB" or "TIB" => 40,
            _ => -1,
        };
        if (shift < 0 || !TryParseNumber(text[..end], out ulong number)) return false;
        if (number > (ulong.MaxValue >> shift)) return false;
        bytes = number << shift;
        return true;
    }

    /// <summary>stdio | pty | none | socket:PATH</summary>
    public static bool TryParseConsole(string text, out ConsoleConfig console)
    {
        console = ConsoleConfig.Stdio;
        switch (text)
        {
            case "stdio": console = ConsoleConfig.Stdio; return true;
            case "pty": console = new ConsoleConfig(ConsoleKind.Pty); return true;
            case "none": console = new ConsoleConfig(ConsoleKind.None); return true;
        }
        if (text.StartsWith("socket:", StringComparison.Ordinal) && text.Length > "socket:".Length)
        {
            console = new ConsoleConfig(ConsoleKind.Socket, text["socket:".Length..]);
            return true;
        }
        return false;
    }
}
