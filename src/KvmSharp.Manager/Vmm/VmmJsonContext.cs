using System.Text.Json.Serialization;

namespace KvmSharp.Manager.Vmm;

/// <summary>Source-generated JSON (NativeAOT) for what the manager writes about its VMMs.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(VmmRecord))]
internal sealed partial class VmmJsonContext : JsonSerializerContext;
