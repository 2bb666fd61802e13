using System.Globalization;

namespace KvmSharp.Manager.DomainXml;

/// <summary>The value types of libvirt's schema (basictypes.rng) that we read, each refused with a message naming its element.</summary>
internal static class XmlValues
{
    /// <summary>
    /// A scaled integer (formatdomain "Memory Allocation", basictypes.rng "unit"): the element's text times its unit,
    /// returned in KiB rounded up, as libvirt rounds. <paramref name="e"/>'s 'unit' attribute is read here.
    /// </summary>
    public static ulong ScaledKib(ElementReader e) => (ScaledBytes(e, "KiB", upToExbi: false) + 1023) / 1024;

    /// <summary>
    /// A scaled integer in bytes (basictypes.rng "unit"), the unit <paramref name="defaultUnit"/> when none is given
    /// (KiB for domain memory, bytes for storage); P and E units only where <paramref name="upToExbi"/> (storage sizes,
    /// not memory); refused when the product does not fit 64 bits.
    /// </summary>
    public static ulong ScaledBytes(ElementReader e, string defaultUnit, bool upToExbi)
    {
        string unit = e.Attribute("unit") ?? defaultUnit;
        UInt128 scale = unit switch
        {
            "b" or "bytes" => 1,
            "KB" => 1000,
            "k" or "K" or "KiB" => 1024,
            "MB" => 1000_000,
            "M" or "m" or "MiB" => 1UL << 20,
            "GB" => 1000_000_000,
            "G" or "g" or "GiB" => 1UL << 30,
            "TB" => 1000_000_000_000,
            "T" or "t" or "TiB" => 1UL << 40,
            "PB" when upToExbi => 1000_000_000_000_000,
            "P" or "p" or "PiB" when upToExbi => 1UL << 50,
            "EB" when upToExbi => 1000_000_000_000_000_000,
            "E" or "e" or "EiB" when upToExbi => 1UL << 60,
            _ => throw DomainXmlError.Xml($"unit '{DomainXmlError.Quote(unit)}' of {e.Describe} is not a size unit (bytes, KiB, MiB, GiB, TiB, …)"),
        };
        ulong value = UnsignedText(e);
        UInt128 bytes = value * scale;
        if (bytes > ulong.MaxValue - 1023) throw DomainXmlError.Xml($"{e.Describe} of {value} {DomainXmlError.Quote(unit)} is too large: it does not fit in 64 bits");
        return (ulong)bytes;
    }

    /// <summary>The element's text as a decimal unsigned number.</summary>
    public static ulong UnsignedText(ElementReader e)
    {
        string text = e.TrimmedText();
        return ParseUnsigned(text) ?? throw DomainXmlError.Xml($"{e.Describe} must be a whole number, not '{DomainXmlError.Quote(text)}'");
    }

    /// <summary>Decimal digits only (no sign, no spaces): null otherwise or when it does not fit 64 bits.</summary>
    public static ulong? ParseUnsigned(string text) =>
        text.Length > 0 && text.All(char.IsAsciiDigit) && ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value)
            ? value : null;

    /// <summary>
    /// A number in a PCI address attribute: hex with 0x, as libvirt writes them, or decimal (libvirt reads them with
    /// strtoul base 0); at most <paramref name="max"/>.
    /// </summary>
    public static uint PciNumber(ElementReader e, string attribute, uint max)
    {
        string? text = e.Attribute(attribute);
        if (text is null) return 0;
        ulong? value = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? text.Length is > 2 and <= 18 && ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong hex) ? hex : null
            : ParseUnsigned(text);
        if (value is not { } number || number > max)
            throw DomainXmlError.Xml($"the attribute {attribute}='{DomainXmlError.Quote(text)}' of {e.Describe} is not a number from 0 to 0x{max:x}");
        return (uint)number;
    }

    /// <summary>A domain or snapshot name from the XML, checked by <see cref="DomainNames.Problem"/>.</summary>
    public static string Name(ElementReader e, string what)
    {
        string name = e.Text();
        if (DomainNames.Problem(name) is { } problem) throw DomainXmlError.Xml($"the {what} name '{DomainXmlError.Quote(name)}' {problem}");
        return name;
    }

    /// <summary>One of <paramref name="choices"/> in an attribute, or <paramref name="absent"/> when it is not given.</summary>
    public static string Choice(ElementReader e, string attribute, string? absent, params string[] choices)
    {
        string? value = e.Attribute(attribute);
        if (value is null)
            return absent ?? throw DomainXmlError.Xml($"{e.Describe} needs the attribute '{attribute}'");
        if (!choices.Contains(value))
            throw DomainXmlError.Unsupported(
                $"{attribute}='{DomainXmlError.Quote(value)}' of {e.Describe} is not supported (only {string.Join(", ", choices.Select(c => $"'{c}'"))})");
        return value;
    }

    /// <summary>One of <paramref name="choices"/> in an attribute, or null when it is not given.</summary>
    public static string? OptionalChoice(ElementReader e, string attribute, params string[] choices) =>
        e.Element.Attribute(attribute) is null ? null : Choice(e, attribute, null, choices);

    /// <summary>An absolute path in an attribute or element, as the schema's absFilePath requires.</summary>
    public static string AbsolutePath(string path, string where)
    {
        if (path.Length == 0 || path[0] != '/' || path.Any(char.IsControl))
            throw DomainXmlError.Xml($"{where} must be an absolute path, not '{DomainXmlError.Quote(path)}'");
        return path;
    }
}
