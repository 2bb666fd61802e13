namespace KvmSharp.Manager.Domains;

internal sealed partial class ManagedDomain
{
    /// <summary>virsh save: pauses the guest, writes its state and memory (<see cref="SaveImage"/>), and ends the run.</summary>
    public void Save(string path, uint flags)
    {
        Flags.Check(flags, Flags.SaveBypassCache | Flags.SaveRunning | Flags.SavePaused);
        if (!Path.IsPathFullyQualified(path))
            throw new ManagerException(ManagerError.InvalidArg, $"the save file '{path}' must be an absolute path (the daemon does not share your working directory)");
        lock (_operation)
        {
            var run = RequireRun("save");
            // The VMM writes into its own folder (WriteVmmSnapshot); the state comes here, the memory file to the save's side.
            string vmmState = Path.Combine(Paths.Directory, $"save.state-{Environment.ProcessId}");
            bool wasRunning = run.State == DomainState.Running;
            try
            {
                if (wasRunning) Drive(run, api => api.Pause());
                WriteVmmSnapshot(run, vmmState, SaveImage.MemoryPath(path));
                SaveImage.Write(path, Xml(inactive: true), vmmState);
            }
            catch
            {
                if (wasRunning) Drive(run, api => api.Resume());
                throw;
            }
            finally
            {
                if (File.Exists(vmmState)) File.Delete(vmmState);
            }
            EndRun(run, StateReason.ShutoffSaved);
        }
    }

    public void ManagedSave(uint flags)
    {
        Directory.CreateDirectory(Paths.Directory);
        Save(Paths.ManagedSave, flags);
    }

    public void RemoveManagedSave()
    {
        lock (_operation)
        {
            RequireDefined();
            foreach (var file in (string[])[Paths.ManagedSave, SaveImage.MemoryPath(Paths.ManagedSave)])
                if (File.Exists(file)) File.Delete(file);
        }
    }

    /// <summary>virsh restore of a save image of this domain (already checked by the caller).</summary>
    public void Restore(string path, byte[] vmmState, uint flags)
    {
        Flags.Check(flags, Flags.SaveBypassCache | Flags.SaveRunning | Flags.SavePaused);
        lock (_operation)
        {
            RequireDefined();
            if (_run is not null) throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: domain '{Name}' is already active");
            StartFromState(vmmState, SaveImage.MemoryPath(path), (flags & Flags.SavePaused) != 0, StateReason.RunningRestored, LifecycleEvent.StartedRestored);
        }
    }
}
