using System.Text.Json;
using System.Text.Json.Serialization;
using KvmSharp.Accelerators;

namespace KvmSharp.Tests.Emulate.State;

/// <summary>
/// A source-generated JSON context for the accelerator states, as the machine layer will have one: a state
/// that survives it is plain data a NativeAOT build can write and read.
/// </summary>
[JsonSerializable(typeof(VcpuState))]
[JsonSerializable(typeof(VmState))]
internal sealed partial class AcceleratorStateJson : JsonSerializerContext
{
    public static VcpuState RoundTrip(VcpuState state) =>
        JsonSerializer.Deserialize(JsonSerializer.Serialize(state, Default.VcpuState), Default.VcpuState)!;

    public static VmState RoundTrip(VmState state) =>
        JsonSerializer.Deserialize(JsonSerializer.Serialize(state, Default.VmState), Default.VmState)!;

    public static string Json(VcpuState state) => JsonSerializer.Serialize(state, Default.VcpuState);

    public static string Json(VmState state) => JsonSerializer.Serialize(state, Default.VmState);
}
