using KvmSharp.State;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// What a restarted daemon does about a snapshot its predecessor died making (kill -9, a crash, power loss): a
/// half-made snapshot is taken back entirely (its internal qcow2 snapshots, its directory), a machine it paused runs
/// again, and a snapshot that was moved into place but not yet marked current becomes current. So a snapshot is
/// either complete or absent after a restart, never listed half-made.
/// </summary>
internal sealed partial class ManagedDomain
{
    /// <summary>In a snapshot being built: the machine was running before the snapshot paused it.</summary>
    private const string ResumeMark = "resume-after";

    private string PartialSnapshot(string name) => Paths.Snapshot($".{name}.partial");

    private string PendingCurrentSnapshot => Path.Combine(Paths.Snapshots, ".current.pending");

    /// <summary>Called once after <see cref="Reattach"/> (the run, if any, is known).</summary>
    public void RecoverInterruptedSnapshots()
    {
        lock (_operation)
        {
            if (!Directory.Exists(Paths.Snapshots)) return;
            foreach (var building in Directory.EnumerateDirectories(Paths.Snapshots, ".*.partial"))
            {
                string file = Path.GetFileName(building);
                string name = file[1..^".partial".Length];
                try { TakeBackPartialSnapshot(name, building); }
                catch (Exception e) when (e is ManagerException or IOException or UnauthorizedAccessException)
                {
                    Log.LogError("domain {Name}: the interrupted snapshot '{Snapshot}' could not be taken back: {Message}", Name, name, e.Message);
                }
            }
            if (File.Exists(PendingCurrentSnapshot))
            {
                string pending = File.ReadAllText(PendingCurrentSnapshot).Trim();
                if (pending.Length > 0 && File.Exists(Path.Combine(Paths.Snapshot(pending), SnapshotMetadataFile)))
                {
                    Log.LogInformation("domain {Name}: snapshot '{Snapshot}' was complete; it becomes current as asked", Name, pending);
                    SetCurrentSnapshot(pending);
                }
                File.Delete(PendingCurrentSnapshot);
            }
        }
    }

    private void TakeBackPartialSnapshot(string name, string building)
    {
        Log.LogWarning("domain {Name}: snapshot '{Snapshot}' was interrupted by the daemon's end; taking it back", Name, name);
        bool completeExists = File.Exists(Path.Combine(Paths.Snapshot(name), SnapshotMetadataFile));
        // The disks' internal snapshots of that name belong to the half-made snapshot unless a complete one has the name
        // (the create refuses an existing name, so only a leftover of this attempt can be there).
        if (!completeExists) DeleteInsideSnapshots(_run, name, _definition.Disks);
        if (_run is { } run && File.Exists(Path.Combine(building, ResumeMark)) && SafeGetState(run) == "Paused")
        {
            Drive(run, api => api.Resume());
            run.State = DomainState.Running;
            run.Reason = StateReason.RunningUnpaused;
        }
        Directory.Delete(building, recursive: true);
        AtomicFile.SyncDirectory(Paths.Snapshots);
    }

    private static string? SafeGetState(DomainRun run)
    {
        try { return run.Api.GetState(); }
        catch (Vmm.VmmApiException) { return null; }
    }
}
