using System.Text;
using KvmSharp.Native.Libc;
using KvmSharp.State;
using static KvmSharp.Native.Libc.FsConstants;

namespace KvmSharp.Devices.Virtio.Fs;

/// <summary>Saving and loading the node and handle tables: nodes as paths below the root, opened again through the jail.</summary>
internal sealed partial class SharedDirectory
{
    /// <summary>The tables as saved state; throws <see cref="StateException"/> naming a node that has no path in the folder any more.</summary>
    public (List<FsNodeState> Nodes, List<FsHandleState> Handles, ulong NextNode, ulong NextHandle) Save(string field)
    {
        var nodes = new List<FsNodeState>();
        foreach (var node in _nodes.Values.OrderBy(n => n.Id))
        {
            string? path = node.Id == RootId ? "" : RelativePath(node);
            if (path is null)
                StateCheck.Fail(field, $"node {node.Id} (inode {node.Inode}) was deleted or moved out of '{RootPath}' on the host while the guest holds it; a snapshot could not find it again");
            nodes.Add(new FsNodeState(node.Id, path, node.Lookups));
        }
        var handles = _handles.OrderBy(h => h.Key).Select(h => new FsHandleState(h.Key, h.Value.NodeId, h.Value.Directory, h.Value.Flags)).ToList();
        return (nodes, handles, _nextNodeId, _nextHandle);
    }

    /// <summary>Replaces the tables with saved ones, each path opened under the root without following links; throws <see cref="StateException"/> when one cannot be.</summary>
    public void Restore(VirtioFsState state, string field)
    {
        ForgetAll();
        StateCheck.That(state.Nodes.Count <= MaxNodes && state.Handles.Count <= MaxHandles, field, "holds more nodes or handles than a device keeps");
        foreach (var saved in state.Nodes)
        {
            if (saved.Id == RootId) { _nodes[RootId].Lookups = Math.Max(1, saved.Lookups); continue; }
            StateCheck.That(saved.Id > RootId && saved.Id < state.NextNodeId && !_nodes.ContainsKey(saved.Id), $"{field}.nodes", $"node id {saved.Id} is out of order or repeated");
            int fd = OpenPath(saved.Path);
            if (fd < 0) StateCheck.Fail($"{field}.nodes", $"'{saved.Path}' cannot be opened again below '{RootPath}': {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(-fd)}");
            var descriptor = new FileDescriptor(fd);
            int error = StatNode(descriptor, out var stat);
            if (error != 0) { descriptor.Dispose(); StateCheck.Fail($"{field}.nodes", $"'{saved.Path}' cannot be examined"); }
            var node = new FsNode(saved.Id, descriptor, stat.Device, stat.Inode, stat.Type) { Lookups = Math.Max(1, saved.Lookups) };
            _nodes[saved.Id] = node;
            _byInode.TryAdd((stat.Device, stat.Inode), node);
        }
        _nextNodeId = Math.Max(state.NextNodeId, RootId + 1);
        foreach (var saved in state.Handles)
        {
            StateCheck.That(saved.Handle > 0 && saved.Handle < state.NextHandle && !_handles.ContainsKey(saved.Handle), $"{field}.handles", $"handle {saved.Handle} is out of order or repeated");
            StateCheck.That(_nodes.TryGetValue(saved.NodeId, out var node), $"{field}.handles", $"handle {saved.Handle} names node {saved.NodeId}, which is not saved");
            int flags = saved.Directory ? LibcConstants.O_RDONLY | O_DIRECTORY : saved.Flags & (PassedOpenFlags & ~O_TRUNC);
            StateCheck.That(!ReadOnly || !Writes(flags), $"{field}.handles", $"handle {saved.Handle} is open for writing, but the folder is read-only");
            int fd = Reopen(node!, flags);
            if (fd < 0) StateCheck.Fail($"{field}.handles", $"handle {saved.Handle} cannot be opened again: {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(-fd)}");
            _handles[saved.Handle] = new OpenFile(new FileDescriptor(fd), saved.NodeId, saved.Directory, flags);
        }
        _nextHandle = Math.Max(state.NextHandle, 1);
    }

    /// <summary>Checks, before anything loads, that every saved node's path still opens below the root (the restore opens them again at activation).</summary>
    public void CheckRestorable(VirtioFsState state, string field)
    {
        StateCheck.That(state.Nodes.Count <= MaxNodes && state.Handles.Count <= MaxHandles, field, "holds more nodes or handles than a device keeps");
        foreach (var saved in state.Nodes)
        {
            StateCheck.NotNull(saved, $"{field}.nodes");
            if (saved.Id == RootId) continue;
            StateCheck.NotNull(saved.Path, $"{field}.nodes");
            int fd = OpenPath(saved.Path);
            if (fd < 0) StateCheck.Fail($"{field}.nodes", $"'{saved.Path}' cannot be opened again below '{RootPath}': {System.Runtime.InteropServices.Marshal.GetPInvokeErrorMessage(-fd)}");
            LibcImports.Close(fd);
        }
    }

    /// <summary>openat2 of a saved relative path under the root: components checked as names, no link followed, nothing above the root.</summary>
    private unsafe int OpenPath(string path)
    {
        foreach (string component in path.Split('/'))
            if (EntryName.TryCreate(Encoding.UTF8.GetBytes(component), out _) != 0) return -Errno.EINVAL;
        var how = new OpenHow
        {
            Flags = (ulong)(O_PATH | O_NOFOLLOW | LibcConstants.O_CLOEXEC),
            Resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS,
        };
        byte[] bytes = Encoding.UTF8.GetBytes(path + "\0");
        int fd;
        fixed (byte* p = bytes) fd = FsImports.OpenAt2(_nodes[RootId].Fd, p, &how);
        return fd < 0 ? -System.Runtime.InteropServices.Marshal.GetLastPInvokeError() : fd;
    }
}
