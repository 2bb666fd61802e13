using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.DomainXml;

/// <summary>The domain's state when a snapshot was taken (formatsnapshot &lt;state&gt;; virsh snapshot-list prints it).</summary>
public enum SnapshotState
{
    Running,
    Paused,
    Shutoff,
}

/// <summary>What a snapshot request says about memory: nothing, 'internal' (saved with the snapshot) or 'no'.</summary>
public enum SnapshotMemory
{
    Default,
    Internal,
    No,
}

/// <summary>
/// A snapshot as the daemon keeps it (<see cref="SnapshotXml.Format"/> is its stored form and what
/// virDomainSnapshotGetXMLDesc returns): <paramref name="CreationTime"/> in Unix seconds, <paramref name="Parent"/>
/// the name of the snapshot it was taken on top of, <paramref name="Domain"/> the definition at that moment.
/// </summary>
public sealed record SnapshotMetadata(
    string Name, string? Description, SnapshotState State, string? Parent, long CreationTime, DomainDefinition Domain);

/// <summary>
/// A snapshot-create request: <paramref name="Name"/> generated from the time when the request has none;
/// <paramref name="Disks"/> the target devs it names (each to be snapshotted internally, as every disk is).
/// </summary>
public sealed record SnapshotRequest(string Name, string? Description, SnapshotMemory Memory, ValueList<string> Disks);
