using System.Text.Json.Serialization;

namespace KvmSharp.Api.Firecracker;

/// <summary>
/// The API's JSON contract, made at compile time (NativeAOT keeps it). Reading is strict as Firecracker's
/// (serde's deny_unknown_fields): an unknown or repeated field, a missing required one or a wrong type is a
/// 400 that names it.
/// </summary>
[JsonSourceGenerationOptions(
    UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    RespectNullableAnnotations = true,
    AllowDuplicateProperties = false,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(InstanceInfo))]
[JsonSerializable(typeof(MachineConfiguration))]
[JsonSerializable(typeof(BootSource))]
[JsonSerializable(typeof(Drive))]
[JsonSerializable(typeof(NetworkInterface))]
[JsonSerializable(typeof(PartialDrive))]
[JsonSerializable(typeof(PartialNetworkInterface))]
[JsonSerializable(typeof(Vsock))]
[JsonSerializable(typeof(EntropyDevice))]
[JsonSerializable(typeof(Balloon))]
[JsonSerializable(typeof(BalloonUpdate))]
[JsonSerializable(typeof(BalloonStats))]
[JsonSerializable(typeof(InstanceActionInfo))]
[JsonSerializable(typeof(VmStateUpdate))]
[JsonSerializable(typeof(SnapshotCreateParams))]
[JsonSerializable(typeof(SnapshotLoadParams))]
[JsonSerializable(typeof(FullVmConfiguration))]
[JsonSerializable(typeof(MigrateParams))]
[JsonSerializable(typeof(MigrationInfo))]
[JsonSerializable(typeof(DiskSnapshotResult))]
[JsonSerializable(typeof(Fault))]
internal sealed partial class FirecrackerJsonContext : JsonSerializerContext;
