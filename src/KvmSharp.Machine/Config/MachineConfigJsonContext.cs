using System.Text.Json;
using System.Text.Json.Serialization;

namespace KvmSharp.Machine.Config;

/// <summary>
/// The JSON contract of <see cref="MachineConfig"/>, made at compile time (no reflection, so NativeAOT keeps it):
/// snake_case names as Firecracker's, enums as lower-case strings, and strict reading: an unknown or repeated field,
/// a null where a value is required, a missing required value or a number for an enum is an error, not a default.
/// </summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    RespectRequiredConstructorParameters = true,
    AllowDuplicateProperties = false,
    WriteIndented = true,
    Converters = [typeof(ConfigEnumConverter<AcceleratorChoice>), typeof(ConfigEnumConverter<ConsoleKind>), typeof(ConfigEnumConverter<DiskFormat>), typeof(ConfigEnumConverter<NetBackendKind>), typeof(ConfigEnumConverter<ForwardProtocol>), typeof(ConfigEnumConverter<FirmwareKind>),
        typeof(ConfigEnumConverter<KvmSharp.Accelerators.Emulate.Translate.TranslatorMode>)])]
[JsonSerializable(typeof(MachineConfig))]
internal sealed partial class MachineConfigJsonContext : JsonSerializerContext;

/// <summary>An enum as its snake_case name ("qcow2", "emulate"); a number is refused, so a file says what it means.</summary>
internal sealed class ConfigEnumConverter<T>() : JsonStringEnumConverter<T>(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false)
    where T : struct, Enum;
