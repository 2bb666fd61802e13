using System.Text;
using KvmSharp.Manager.DomainXml;
using KvmSharp.State;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// Full-system snapshots: the machine's state and memory (when it runs) in the snapshot's own directory with its
/// metadata (libvirt's snapshot XML) beside them, and every writable disk's state as <see cref="SnapshotDisks"/> keeps
/// it (qcow2: an internal snapshot of the same name; raw: a sparse copy in the directory).
/// </summary>
internal sealed partial class ManagedDomain
{
    private const string SnapshotMetadataFile = "snapshot.xml", SnapshotStateFile = "machine.state", SnapshotMemoryFile = "memory";

    public string CreateSnapshot(string xml, uint flags)
    {
        Flags.Check(flags, Flags.SnapshotCreateAtomic | Flags.SnapshotCreateLive);
        var request = SnapshotXml.ParseRequest(xml);
        string name = request.Name;
        CheckSnapshotName(name);
        lock (_operation)
        {
            RequireDefined();
            if (_definition.Disks.FirstOrDefault(d => d.Volume is not null) is { } volumeDisk)
                throw new ManagerException(ManagerError.ConfigUnsupported,
                    $"unsupported configuration: snapshots of a domain with a storage volume disk ({volumeDisk.Target}) are not supported yet");
            string final = Paths.Snapshot(name);
            if (Directory.Exists(final))
                throw new ManagerException(ManagerError.InvalidArg, $"invalid argument: snapshot '{name}' already exists");
            string building = PartialSnapshot(name);
            if (Directory.Exists(building)) Directory.Delete(building, recursive: true);
            var run = _run;
            if (run is not null && request.Memory == SnapshotMemory.No)
                throw new ManagerException(ManagerError.ConfigUnsupported, "unsupported configuration: a snapshot of a running domain without its memory (memory snapshot='no'); KvmSharp takes full-system snapshots");
            bool wasRunning = run?.State == DomainState.Running;
            Directory.CreateDirectory(Path.Combine(building, "disks"));
            // What a restart needs to undo this snapshot if the daemon dies before it is complete (RecoverInterruptedSnapshots).
            if (wasRunning) AtomicFile.WriteAllBytes(Path.Combine(building, ResumeMark), []);
            bool insideTaken = false;
            try
            {
                if (run is not null)
                {
                    if (wasRunning) Drive(run, api => api.Pause());
                    FaultPoint.Reach("snapshot.paused");
                    WriteVmmSnapshot(run, Path.Combine(building, SnapshotStateFile), Path.Combine(building, SnapshotMemoryFile));
                    Drive(run, api => api.CreateDiskSnapshots(name));
                }
                else SnapshotDisks.CreateInside(_definition.Disks, name);
                insideTaken = true;
                FaultPoint.Reach("snapshot.taken");
                foreach (var disk in _definition.Disks.Where(d => !d.ReadOnly && !SnapshotDisks.KeptInside(d)))
                    SparseCopy.Copy(disk.Source, Path.Combine(building, "disks", disk.Target));
            }
            catch
            {
                if (insideTaken) DeleteInsideSnapshots(run, name, _definition.Disks);
                Directory.Delete(building, recursive: true);
                throw;
            }
            finally
            {
                if (wasRunning && run is not null && !run.Finished) Drive(run, api => api.Resume());
            }
            var metadata = new SnapshotMetadata(name, request.Description,
                run is null ? SnapshotState.Shutoff : wasRunning ? SnapshotState.Running : SnapshotState.Paused, CurrentSnapshotName(), DateTimeOffset.UtcNow.ToUnixTimeSeconds(), _definition);
            AtomicFile.WriteAllBytes(Path.Combine(building, SnapshotMetadataFile), Encoding.UTF8.GetBytes(SnapshotXml.Format(metadata)));
            FaultPoint.Reach("snapshot.described");
            // The snapshot becomes current with its move into place: the mark is written first under another name and
            // a restart finishes the switch when the snapshot made it (RecoverInterruptedSnapshots).
            AtomicFile.WriteAllBytes(PendingCurrentSnapshot, Encoding.UTF8.GetBytes(name));
            Directory.Move(building, final);
            AtomicFile.SyncDirectory(Paths.Snapshots);
            FaultPoint.Reach("snapshot.moved");
            SetCurrentSnapshot(name);
            File.Delete(PendingCurrentSnapshot);
            return name;
        }
    }

    public IReadOnlyList<string> SnapshotNames()
    {
        if (!Directory.Exists(Paths.Snapshots)) return [];
        return [.. Directory.EnumerateDirectories(Paths.Snapshots)
            .Select(Path.GetFileName)
            .Where(n => n is not null && !n.StartsWith('.') && File.Exists(Path.Combine(Paths.Snapshot(n), SnapshotMetadataFile)))
            .Select(n => n!)
            .OrderBy(n => Metadata(n).CreationTime).ThenBy(n => n, StringComparer.Ordinal)];
    }

    public SnapshotMetadata Metadata(string name)
    {
        CheckSnapshotName(name);
        string file = Path.Combine(Paths.Snapshot(name), SnapshotMetadataFile);
        if (!File.Exists(file))
            throw new ManagerException(ManagerError.NoDomainSnapshot, $"Domain snapshot not found: no domain snapshot with matching name '{name}'");
        return SnapshotXml.ParseMetadata(File.ReadAllText(file));
    }

    public string? CurrentSnapshotName()
    {
        if (!File.Exists(Paths.CurrentSnapshot)) return null;
        string name = File.ReadAllText(Paths.CurrentSnapshot).Trim();
        return name.Length > 0 && Directory.Exists(Paths.Snapshot(name)) ? name : null;
    }

    private void SetCurrentSnapshot(string? name)
    {
        if (name is null) { if (File.Exists(Paths.CurrentSnapshot)) File.Delete(Paths.CurrentSnapshot); }
        else AtomicFile.WriteAllBytes(Paths.CurrentSnapshot, Encoding.UTF8.GetBytes(name));
    }

    /// <summary>Brings back the snapshot's disks, definition and (when it was taken running) the machine itself.</summary>
    public void RevertToSnapshot(string name, uint flags)
    {
        Flags.Check(flags, Flags.SnapshotRevertRunning | Flags.SnapshotRevertPaused | Flags.SnapshotRevertForce);
        lock (_operation)
        {
            RequireDefined();
            var metadata = Metadata(name);
            string directory = Paths.Snapshot(name);
            if (_run is { } run) EndRun(run, StateReason.ShutoffFromSnapshot);
            foreach (var disk in metadata.Domain.Disks.Where(d => !d.ReadOnly))
            {
                string copy = Path.Combine(directory, "disks", disk.Target);
                if (File.Exists(copy)) SparseCopy.Copy(copy, disk.Source);
                else if (SnapshotDisks.KeptInside(disk)) SnapshotDisks.RevertInside(disk, name);
            }
            WriteDefinition(metadata.Domain);
            _definition = metadata.Domain;
            SetCurrentSnapshot(name);
            bool wantRunning = (flags & (Flags.SnapshotRevertRunning | Flags.SnapshotRevertPaused)) != 0 || metadata.State != SnapshotState.Shutoff;
            if (!wantRunning)
            {
                _shutoffReason = StateReason.ShutoffFromSnapshot;
                return;
            }
            string state = Path.Combine(directory, SnapshotStateFile);
            if (!File.Exists(state))
                throw new ManagerException(ManagerError.OperationInvalid, $"snapshot '{name}' was taken of a shut-off domain: it has no machine state to run");
            bool paused = (flags & Flags.SnapshotRevertPaused) != 0 || (metadata.State == SnapshotState.Paused && (flags & Flags.SnapshotRevertRunning) == 0);
            StartFromState(File.ReadAllBytes(state), Path.Combine(directory, SnapshotMemoryFile), paused, StateReason.RunningFromSnapshot, LifecycleEvent.StartedFromSnapshot);
        }
    }

    /// <summary>Deletes a snapshot (with its descendants given DELETE_CHILDREN); its children take its parent.</summary>
    public void DeleteSnapshot(string name, uint flags)
    {
        Flags.Check(flags, Flags.SnapshotDeleteChildren | Flags.SnapshotDeleteMetadataOnly | Flags.SnapshotDeleteChildrenOnly);
        lock (_operation)
        {
            RequireDefined();
            var metadata = Metadata(name);
            var all = SnapshotNames().Select(Metadata).ToList();
            var doomed = new HashSet<string>(StringComparer.Ordinal);
            if ((flags & Flags.SnapshotDeleteChildrenOnly) == 0) doomed.Add(name);
            if ((flags & (Flags.SnapshotDeleteChildren | Flags.SnapshotDeleteChildrenOnly)) != 0) AddDescendants(name, all, doomed);
            foreach (var child in all.Where(s => !doomed.Contains(s.Name) && s.Parent is { } p && doomed.Contains(p)))
            {
                var moved = child with { Parent = metadata.Parent };
                AtomicFile.WriteAllBytes(Path.Combine(Paths.Snapshot(child.Name), SnapshotMetadataFile), Encoding.UTF8.GetBytes(SnapshotXml.Format(moved)));
            }
            string? current = CurrentSnapshotName();
            foreach (var gone in doomed)
            {
                if ((flags & Flags.SnapshotDeleteMetadataOnly) == 0) DeleteInsideSnapshots(_run, gone, all.First(s => s.Name == gone).Domain.Disks);
                Directory.Delete(Paths.Snapshot(gone), recursive: true);
            }
            if (current is not null && doomed.Contains(current)) SetCurrentSnapshot(doomed.Contains(name) ? metadata.Parent : name);
        }
    }

    /// <summary>
    /// Internal snapshot <paramref name="name"/> out of the qcow2 disks: by the VMM while the domain runs (it has its disks
    /// open), else from the <paramref name="disks"/> the snapshot was taken of.
    /// </summary>
    private void DeleteInsideSnapshots(DomainRun? run, string name, IEnumerable<DomainDisk> disks)
    {
        if (run is not null && !run.Finished) Drive(run, api => api.DeleteDiskSnapshots(name));
        else SnapshotDisks.DeleteInside(disks, name);
    }

    private static void AddDescendants(string name, List<SnapshotMetadata> all, HashSet<string> into)
    {
        foreach (var child in all.Where(s => s.Parent == name))
            if (into.Add(child.Name)) AddDescendants(child.Name, all, into);
    }

    /// <summary>
    /// A snapshot's name (also one a client looks up) becomes a directory name: <see cref="DomainNames"/>' rules, and
    /// not 'current' nor a leading '.', which this directory uses itself (the current mark, snapshots being built).
    /// </summary>
    private static void CheckSnapshotName(string name)
    {
        string? problem = DomainNames.Problem(name) ?? (name == "current" || name.StartsWith('.') ? "is reserved ('current' or a leading '.')" : null);
        if (problem is not null) throw new ManagerException(ManagerError.InvalidArg, $"invalid argument: snapshot name '{name}' {problem}");
    }
}
