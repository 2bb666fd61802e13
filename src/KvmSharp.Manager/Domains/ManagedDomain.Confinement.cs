using KvmSharp.Machine.Config;
using KvmSharp.Machine.State;
using KvmSharp.Manager.Confinement;
using KvmSharp.Native.Libc;
using KvmSharp.State;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// A run's confinement (issue 15): the VMM of a root daemon runs as the VMM user with its files handed to it
/// (<see cref="VmmFileAccess"/>), in the VM's own cgroup with the limits of &lt;memtune&gt; and &lt;cputune&gt;
/// (<see cref="VmmCgroup"/>), and in a mount namespace of its own (<see cref="LaunchScript"/>); all of it undone when
/// the run ends, by whichever daemon sees the end.
/// </summary>
internal sealed partial class ManagedDomain
{
    private VmmCgroup Cgroup => VmmCgroup.For(_context.Cgroups, Name, Uuid);

    /// <summary>
    /// Sets up the confinement of a run of <paramref name="config"/> (null: not known, the VMM's own error will say
    /// why) that also reads <paramref name="extraReads"/>; undone at once if any step fails.
    /// </summary>
    private VmmConfinement Confine(MachineConfig? config, IReadOnlyList<string> extraReads)
    {
        Directory.CreateDirectory(Paths.RunDirectory);
        var user = _context.VmmUser;
        var files = VmmFilesOf(config, extraReads);
        try
        {
            if (user is not null)
            {
                CreateVarsStore(config);
                VmmFileAccess.Grant(user, [.. files, new VmmFile(_context.VmmProgram, false), new VmmFile(Paths.RunDirectory, true)], Paths.FileOwners, Log);
            }
            IReadOnlyList<string> procs = [];
            var cgroup = Cgroup;
            try
            {
                cgroup.Create(_definition.MemoryTune, _definition.CpuTune, _definition.VcpuCount);
                procs = cgroup.ProcsFiles;
            }
            catch (ManagerException e) when (e.Error == ManagerError.OperationFailed && _definition.MemoryTune is null && _definition.CpuTune is null)
            {
                // No limit asked for: a cgroup is only for accounting, and a daemon without the right to make one (not
                // root, a read-only /sys/fs/cgroup) still runs its VMs. With limits this is a refusal (rethrown).
                Log.LogWarning("domain {Name}: runs without a cgroup of its own: {Message}", Name, e.Message);
            }
            // A mount namespace needs CAP_SYS_ADMIN: a root daemon's VMMs get one, a session daemon's run as it does.
            bool ownNamespace = user is not null;
            var hidden = ownNamespace
                ? VmmConfinement.FoldersToHide([.. files.Select(f => f.Path), _context.VmmProgram, Paths.Directory])
                : [];
            return new VmmConfinement(user, procs, ownNamespace, hidden);
        }
        catch
        {
            Unconfine();
            throw;
        }
    }

    /// <summary>After a run: the files' owners given back, the cgroup removed.</summary>
    private void Unconfine()
    {
        VmmFileAccess.Restore(Paths.FileOwners, Log);
        if (!Cgroup.Remove()) Log.LogWarning("domain {Name}: its cgroup {Cgroup} is still busy; the next start removes it", Name, Cgroup.RelativePath);
    }

    /// <summary>Every file the VMM of <paramref name="config"/> opens by path, and whether it writes it.</summary>
    private List<VmmFile> VmmFilesOf(MachineConfig? config, IReadOnlyList<string> extraReads)
    {
        var files = new List<VmmFile> { new(Paths.MachineConfig, false) };
        files.AddRange(extraReads.Select(p => new VmmFile(p, false)));
        if (config is null) return files;
        if (config.Kernel is { } kernel)
        {
            files.Add(new VmmFile(kernel.Path, false));
            if (kernel.InitrdPath is { } initrd) files.Add(new VmmFile(initrd, false));
        }
        if (config.Firmware is { } firmware)
        {
            files.Add(new VmmFile(firmware.Image, false));
            if (firmware.VarsPath is { } vars) files.Add(new VmmFile(vars, true));
        }
        files.AddRange(config.Disks.Select(d => new VmmFile(d.Path, !d.ReadOnly)));
        files.AddRange(config.Disks.SelectMany(d => BackingChain.Below(d.Path)).Select(p => new VmmFile(p, false)));
        files.AddRange(config.Filesystems.Select(f => new VmmFile(f.Path, !f.ReadOnly)));
        return files;
    }

    /// <summary>
    /// A UEFI domain's variable store is copied from its template by the VMM the first time; an unprivileged VMM
    /// cannot create files beside the other domains' stores, so the daemon copies it first.
    /// </summary>
    private static void CreateVarsStore(MachineConfig? config)
    {
        if (config?.Firmware is not { Kind: FirmwareKind.Uefi, VarsPath: { } vars } firmware || File.Exists(vars)) return;
        if (!File.Exists(firmware.VarsTemplate)) return;   // the VMM says so in its own words
        Directory.CreateDirectory(Path.GetDirectoryName(vars)!);
        File.Copy(firmware.VarsTemplate, vars);
    }

    /// <summary>The machine config inside a saved machine state; null when it cannot be read (the VMM refuses the state in its own words).</summary>
    private static MachineConfig? ConfigInState(byte[] vmmState)
    {
        try { return MachineStateJson.Deserialize(vmmState, "the saved state").Config; }
        catch (StateException) { return null; }
    }

    private MachineConfig? ConfigInFile()
    {
        try { return MachineConfigJson.ReadFile(Paths.MachineConfig); }
        catch (Exception e) when (e is MachineConfigException or IOException) { return null; }
    }

    /// <summary>
    /// Has the VMM write its state and memory (a save, a snapshot) to <paramref name="statePath"/> and
    /// <paramref name="memoryPath"/>. A VMM may write only in its run folder (an unprivileged one by ownership, any one by its
    /// Landlock sandbox), so it writes there and the daemon moves both files into place, owned by the daemon when the VMM
    /// runs as another user (a later VMM cannot change a saved machine).
    /// </summary>
    private void WriteVmmSnapshot(DomainRun run, string statePath, string memoryPath)
    {
        string state = Path.Combine(Paths.RunDirectory, "snapshot.state"), memory = Path.Combine(Paths.RunDirectory, "snapshot.mem");
        foreach (var stale in (string[])[state, memory])
            if (File.Exists(stale)) File.Delete(stale);
        try
        {
            Drive(run, api => api.CreateSnapshot(state, memory));
            foreach (var (from, to) in (ReadOnlySpan<(string, string)>)[(state, statePath), (memory, memoryPath)])
            {
                File.Move(from, to, overwrite: true);   // a rename in the same file system; else a copy (not sparse)
                if (_context.VmmUser is not null) FileOwnership.Set(to, FileOwner.EffectiveUserId, FileOwnership.Of(Paths.Directory)?.Gid ?? 0);
            }
        }
        finally
        {
            foreach (var left in (string[])[state, memory])
                if (File.Exists(left)) File.Delete(left);
        }
    }
}
