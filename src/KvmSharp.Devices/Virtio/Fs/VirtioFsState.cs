namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>
/// virtio-fs's own saved state: the FUSE session the guest holds. Host descriptors cannot be saved, so each node is
/// kept as its path below the shared folder and opened again (through the same jail) on restore, and each open
/// handle as its node and flags. A node the host deleted or moved out of the folder while the guest holds it has no
/// path: saving is then refused with that reason.
/// </summary>
public sealed record VirtioFsState
{
    public string Tag { get; init; } = "";
    public bool ReadOnly { get; init; }
    public bool Initialized { get; init; }
    public uint Minor { get; init; }
    public ulong NextNodeId { get; init; }
    public ulong NextHandle { get; init; }
    public IReadOnlyList<FsNodeState> Nodes { get; init; } = [];
    public IReadOnlyList<FsHandleState> Handles { get; init; } = [];
}

/// <summary>One node: its id, its path below the shared folder ("" is the root) and the lookups the guest holds.</summary>
public sealed record FsNodeState(ulong Id, string Path, ulong Lookups);

/// <summary>One open handle: its number, its node, whether a directory, and the open flags it was made with.</summary>
public sealed record FsHandleState(ulong Handle, ulong NodeId, bool Directory, int Flags);
