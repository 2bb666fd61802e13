using System.Text.Json;

namespace KvmSharp.Machine.Config;

/// <summary>
/// A <see cref="MachineConfig"/> as a JSON file (<c>kvmsharp run --config vm.json</c>). The file carries
/// <c>"format_version": 1</c>; one of another version, or without one, is refused before anything else is read.
/// Every mistake is a <see cref="MachineConfigException"/> of one line that says where (line and JSON path).
/// Paths in the file are used as written: a relative one is relative to the working directory, as in Firecracker.
/// </summary>
public static class MachineConfigJson
{
    public const int CurrentFormatVersion = 1;

    private const string VersionField = "format_version";

    /// <summary>The JSON text (indented, ending in a newline) of <paramref name="config"/> as it is; normalize it first to save every id and slot.</summary>
    public static string Write(MachineConfig config) =>
        JsonSerializer.Serialize(config, MachineConfigJsonContext.Default.MachineConfig) + "\n";

    /// <summary>Reads a config; not validated (see <see cref="MachineConfig.Validate"/>) nor normalized.</summary>
    public static MachineConfig Read(string json)
    {
        try
        {
            CheckVersion(json);
            return JsonSerializer.Deserialize(json, MachineConfigJsonContext.Default.MachineConfig)
                   ?? throw new MachineConfigException("the config is null; it should be a JSON object");
        }
        catch (JsonException e)
        {
            throw new MachineConfigException(Describe(e));
        }
    }

    /// <summary>Reads the config in <paramref name="path"/>; every message starts with the file's name.</summary>
    public static MachineConfig ReadFile(string path)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new MachineConfigException($"cannot read the config {path}: {e.Message}");
        }
        try
        {
            return Read(json);
        }
        catch (MachineConfigException e)
        {
            throw new MachineConfigException($"{path}: {e.Message}");
        }
    }

    /// <summary>The version comes first: a newer layout is named as such, not as a list of unknown fields.</summary>
    private static void CheckVersion(string json)
    {
        using var document = JsonDocument.Parse(json);
        if (document.RootElement.ValueKind != JsonValueKind.Object)
            throw new MachineConfigException($"the config is a JSON {document.RootElement.ValueKind.ToString().ToLowerInvariant()}; it should be an object");
        if (!document.RootElement.TryGetProperty(VersionField, out var version))
            throw new MachineConfigException($"{VersionField} is missing; this kvmsharp reads version {CurrentFormatVersion} (add \"{VersionField}\": {CurrentFormatVersion})");
        if (version.ValueKind != JsonValueKind.Number || !version.TryGetInt32(out int number) || number != CurrentFormatVersion)
            throw new MachineConfigException($"{VersionField} {version.GetRawText()} is not supported: this kvmsharp reads version {CurrentFormatVersion}");
    }

    /// <summary>"line 3, disks[0].foo: unknown field", from the serializer's exception: its position, path and reason.</summary>
    private static string Describe(JsonException e)
    {
        string path = e.Path is { } p ? p.TrimStart('$').TrimStart('.') : "";
        string where = string.Join(", ", new[] { e.LineNumber is { } line ? $"line {line + 1}" : "", path }.Where(w => w.Length > 0));
        string reason = Reason(e.Message, path);
        return where.Length > 0 ? $"{where}: {reason}" : reason;
    }

    /// <summary>
    /// The serializer's reason in the file's words: its messages name .NET types and members, which a config's
    /// author never sees. Reasons not recognized here pass through as they are, less the position they repeat.
    /// </summary>
    private static string Reason(string message, string path)
    {
        foreach (string tail in (string[])[" Path: ", " LineNumber: "])
            if (message.IndexOf(tail, StringComparison.Ordinal) is >= 0 and var cut) message = message[..cut];
        message = message.TrimEnd('.', ' ');
        string leaf = path[(path.LastIndexOf('.') + 1)..];
        if (message.Contains("could not be mapped to any .NET member", StringComparison.Ordinal)) return "unknown field";
        if (message.StartsWith("Duplicate property", StringComparison.Ordinal)) return "given twice";
        if (message.Contains("null value", StringComparison.Ordinal)) return "cannot be null";
        if (message.Contains("missing required properties including: ", StringComparison.Ordinal))
            return "missing " + message[(message.IndexOf("including: ", StringComparison.Ordinal) + "including: ".Length)..];
        if (message.StartsWith("The JSON value could not be converted", StringComparison.Ordinal))
            return leaf switch
            {
                "accelerator" => "must be one of \"auto\", \"kvm\", \"emulate\"",
                "kind" => "must be one of \"stdio\", \"pty\", \"socket\", \"none\"",
                "format" => "must be one of \"raw\", \"qcow2\" or null",
                _ => "a value of the wrong type, or out of its range",
            };
        return message.Replace(typeof(MachineConfig).Namespace + ".", "", StringComparison.Ordinal);
    }
}
