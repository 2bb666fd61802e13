using System.Text.Json.Serialization;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// What the daemon writes down (atomically, networks/NAME/active.json) once a network is up, so that a restarted
/// daemon adopts it instead of making it again: the XML it runs with (a later define changes only the next start),
/// and dnsmasq's pid with its start time (a reused pid is not ours).
/// </summary>
public sealed record ActiveNetworkRecord(string Xml, string Bridge, string NftTable, int DnsmasqPid, ulong DnsmasqStartTime);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(ActiveNetworkRecord))]
internal sealed partial class NetworkJsonContext : JsonSerializerContext;
