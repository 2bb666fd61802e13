using System.Text.Json;
using System.Text.Json.Serialization;
using KvmSharp.Machine.Config;
using KvmSharp.State;

namespace KvmSharp.Machine.State;

/// <summary>
/// A machine state to and from its file: JSON from a compile-time serializer (strict: unknown fields, missing
/// required ones and wrong types are refused) inside the checked <see cref="StateFile"/> envelope.
/// </summary>
public static class MachineStateJson
{
    /// <summary>Bump when a state of this version cannot be read by the next one.</summary>
    public const uint FormatVersion = 1;

    public static byte[] Serialize(MachineState state) =>
        StateFile.Wrap(JsonSerializer.SerializeToUtf8Bytes(state, MachineStateJsonContext.Default.MachineState), StateFile.MachineStateKind, FormatVersion);

    /// <summary>Reads a state from <paramref name="envelope"/>; anything wrong is a <see cref="StateException"/> of one line.</summary>
    public static MachineState Deserialize(ReadOnlyMemory<byte> envelope, string what)
    {
        return Parse(StateFile.Unwrap(envelope, StateFile.MachineStateKind, FormatVersion, what), what);
    }

    private static MachineState Parse(ReadOnlyMemory<byte> payload, string what)
    {
        try
        {
            return JsonSerializer.Deserialize(payload.Span, MachineStateJsonContext.Default.MachineState)
                   ?? throw new StateException($"{what}: the state is empty");
        }
        catch (JsonException e)
        {
            throw new StateException($"{what}: the state does not read back ({e.Path}): {e.Message.Split(" Path:")[0]}");
        }
        catch (NotSupportedException e)
        {
            // System.Text.Json says NotSupported, not JsonException, when a vCPU or VM state lacks its "accelerator"
            // discriminator (found by fuzz/run state-json): still the file's fault, so still one line.
            string[] parts = e.Message.Split(" Path: ");
            string path = parts.Length > 1 ? parts[1].Split(' ')[0] : "$";
            throw new StateException($"{what}: the state does not read back ({path}): {parts[0]}");
        }
    }

    public static void WriteFile(string path, MachineState state) =>
        StateFile.Write(path, JsonSerializer.SerializeToUtf8Bytes(state, MachineStateJsonContext.Default.MachineState), StateFile.MachineStateKind, FormatVersion);

    /// <summary>Reads the state file at <paramref name="path"/> (bounded in size, checked before parsing).</summary>
    public static MachineState ReadFile(string path) =>
        Parse(StateFile.Read(path, StateFile.MachineStateKind, FormatVersion), $"state file '{path}'");
}

/// <summary>The machine state's JSON contract; the config inside it is written as a config file is.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    AllowDuplicateProperties = false,
    Converters = [typeof(ConfigEnumConverter<AcceleratorChoice>), typeof(ConfigEnumConverter<ConsoleKind>), typeof(ConfigEnumConverter<DiskFormat>), typeof(ConfigEnumConverter<FirmwareKind>),
        typeof(ConfigEnumConverter<KvmSharp.Accelerators.Emulate.Translate.TranslatorMode>)])]
[JsonSerializable(typeof(MachineState))]
internal sealed partial class MachineStateJsonContext : JsonSerializerContext;
