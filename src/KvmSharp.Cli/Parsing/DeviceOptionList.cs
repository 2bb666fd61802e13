namespace KvmSharp.Cli.Parsing;

/// <summary>
/// The QEMU-style value of a device flag: an optional leading positional value and comma-separated
/// key=value pairs, as in <c>disk.qcow2,format=qcow2,readonly=on</c> or <c>cid=3,uds=/tmp/v.sock</c>.
/// Parsing only splits and checks for unknown or repeated keys; each flag interprets the values.
/// </summary>
internal sealed class DeviceOptionList
{
    private readonly Dictionary<string, string> _pairs;

    private DeviceOptionList(string? positional, Dictionary<string, string> pairs)
    {
        Positional = positional;
        _pairs = pairs;
    }

    /// <summary>The leading value without '=' (a path, say), or null when the first item is a key=value pair.</summary>
    public string? Positional { get; }

    public string? Get(string key) => _pairs.GetValueOrDefault(key);

    /// <summary>
    /// Splits <paramref name="text"/>; false with a message for an empty item, a key outside
    /// <paramref name="allowedKeys"/>, a repeated key or a positional value after the first item.
    /// </summary>
    public static bool TryParse(string text, IReadOnlyCollection<string> allowedKeys, out DeviceOptionList options, out string error)
    {
        options = new DeviceOptionList(null, []);
        error = "";
        string? positional = null;
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        string[] items = text.Split(',');
        for (int i = 0; i < items.Length; i++)
        {
            string item = items[i];
            int eq = item.IndexOf('=');
            if (eq < 0)
            {
                if (i != 0 || item.Length == 0) { error = $"'{item}' is not key=value"; return false; }
                positional = item;
                continue;
            }
            string key = item[..eq], value = item[(eq + 1)..];
            if (!allowedKeys.Contains(key)) { error = $"unknown key '{key}' (known: {string.Join(", ", allowedKeys)})"; return false; }
            if (!pairs.TryAdd(key, value)) { error = $"'{key}' is given twice"; return false; }
        }
        options = new DeviceOptionList(positional, pairs);
        return true;
    }

    /// <summary>on/off (also true/false, yes/no, 1/0) for a switch such as readonly=on; absent: false.</summary>
    public bool TryGetSwitch(string key, out bool value, out string error)
    {
        error = "";
        value = false;
        switch (Get(key))
        {
            case null: return true;
            case "on" or "true" or "yes" or "1": value = true; return true;
            case "off" or "false" or "no" or "0": return true;
            case var other: error = $"{key}={other}: use on or off"; return false;
        }
    }
}
