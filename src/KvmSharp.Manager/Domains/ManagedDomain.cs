using System.Text.Json;
using KvmSharp.Machine.Config;
using KvmSharp.Manager.DomainXml;
using KvmSharp.Manager.Vmm;
using KvmSharp.State;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// One defined domain: its definition on disk and, while it runs, its VMM. Operations on one domain run one at a
/// time (<see cref="_operation"/>); reads of its state do not wait for them.
/// </summary>
internal sealed partial class ManagedDomain
{
    private static readonly TimeSpan ApiTimeout = TimeSpan.FromSeconds(60);
    private readonly Lock _operation = new();
    private readonly DomainContext _context;
    private volatile DomainRun? _run;
    private volatile DomainDefinition _definition;
    private int _shutoffReason = StateReason.ShutoffUnknown;

    public ManagedDomain(DomainDefinition definition, DomainContext context)
    {
        _definition = definition;
        _context = context;
        Paths = context.State.For(definition.Name);
    }

    public DomainPaths Paths { get; }
    public DomainDefinition Definition => _definition;
    public string Name => _definition.Name;
    public Guid Uuid => _definition.Uuid;
    public bool IsActive => _run is not null;
    public int Id => _run?.Id ?? -1;
    public DomainRef Ref => new(Name, Uuid, Id);
    public bool Autostart => File.Exists(Paths.Autostart);
    public bool HasManagedSave => File.Exists(Paths.ManagedSave);
    /// <summary>Set once undefined: every later call on this object is refused as on an unknown domain.</summary>
    public bool Removed { get; private set; }

    public DomainStateAndReason State => _run is { } run ? new(run.State, run.Reason) : new(DomainState.Shutoff, _shutoffReason);

    public DomainInfo Info
    {
        get
        {
            var run = _run;
            var definition = _definition;
            ulong cpuNs = run is null ? 0 : CpuTimeNs(run);
            return new DomainInfo(State.State, definition.MemoryKib, definition.CurrentMemoryKib, definition.VcpuCount, cpuNs);
        }
    }

    public IReadOnlyList<VcpuInfo> Vcpus
    {
        get
        {
            var run = RequireRun("get the vCPUs of");
            ulong cpuNs = CpuTimeNs(run);
            return [.. Enumerable.Range(0, _definition.VcpuCount).Select(i => new VcpuInfo((uint)i, 1, i == 0 ? cpuNs : 0, -1))];
        }
    }

    /// <summary>The run's CPU time: its cgroup's (every thread, ns) where it has one, else the VMM's own (clock ticks; USER_HZ = 100 on Linux x86-64).</summary>
    private ulong CpuTimeNs(DomainRun run) => Cgroup.CpuTimeNs() ?? (ProcStat.CpuTicks(run.Process.Pid) ?? 0) * 10_000_000UL;

    public string Xml(bool inactive)
    {
        // The live XML names each network NIC's tap (<target dev='vnetN'/>), as libvirt's does (virsh domiflist).
        var taps = inactive ? [] : RunningTaps();
        var definition = taps.Count == _definition.NetworkInterfaces.Count() && taps.Count > 0 ? _definition.WithNetworkTaps(i => taps[i]) : _definition;
        return DomainXmlWriter.Format(definition, inactive ? null : _run?.Id);
    }

    public void SetAutostart(bool on)
    {
        lock (_operation)
        {
            RequireDefined();
            if (on) AtomicFile.WriteAllBytes(Paths.Autostart, []);
            else if (File.Exists(Paths.Autostart)) File.Delete(Paths.Autostart);
        }
    }

    /// <summary>Replaces the definition (define of an existing name); a running domain takes it at its next start.</summary>
    public void Redefine(DomainDefinition definition)
    {
        lock (_operation)
        {
            RequireDefined();
            WriteDefinition(definition);
            _definition = definition;
        }
    }

    public void WriteDefinition(DomainDefinition definition)
    {
        Directory.CreateDirectory(Paths.Directory);
        AtomicFile.WriteAllBytes(Paths.Definition, System.Text.Encoding.UTF8.GetBytes(DomainXmlWriter.Format(definition, null)));
    }

    /// <summary>Removes the definition and everything kept for it; refused while it runs or (without the flags) has saved state.</summary>
    public void Undefine(uint flags)
    {
        Flags.Check(flags, Flags.UndefineManagedSave | Flags.UndefineSnapshotsMetadata | Flags.UndefineNvram | Flags.UndefineKeepNvram);
        lock (_operation)
        {
            RequireDefined();
            if (_run is not null)
                throw new ManagerException(ManagerError.OperationInvalid, $"domain '{Name}' is running; destroy it before undefining it");
            if (HasManagedSave && (flags & Flags.UndefineManagedSave) == 0)
                throw new ManagerException(ManagerError.OperationInvalid, "Refusing to undefine while domain managed save image exists");
            if (SnapshotNames().Count > 0 && (flags & Flags.UndefineSnapshotsMetadata) == 0)
                throw new ManagerException(ManagerError.OperationInvalid, $"cannot delete inactive domain with {SnapshotNames().Count} snapshots");
            // A UEFI domain's variable store goes only when asked (--nvram) and stays when asked (--keep-nvram), as libvirt does.
            string? nvram = _definition.Os is { Uefi: true, Nvram: { } path } && File.Exists(path) ? path : null;
            if (nvram is not null && (flags & (Flags.UndefineNvram | Flags.UndefineKeepNvram)) == 0)
                throw new ManagerException(ManagerError.OperationInvalid, "Requested operation is not valid: cannot undefine domain with nvram");
            Directory.CreateDirectory(_context.State.TrashRoot);
            string trash = Path.Combine(_context.State.TrashRoot, Guid.NewGuid().ToString("N"));
            Directory.Move(Paths.Directory, trash);
            AtomicFile.SyncDirectory(_context.State.DomainsRoot);
            Directory.Delete(trash, recursive: true);
            if (nvram is not null && (flags & Flags.UndefineNvram) != 0) File.Delete(nvram);
            Removed = true;
        }
    }

    private void RequireDefined()
    {
        if (Removed) throw new ManagerException(ManagerError.NoDomain, $"Domain not found: no domain with matching name '{Name}'");
    }

    private DomainRun RequireRun(string what)
    {
        RequireDefined();
        return _run ?? throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: cannot {what} domain '{Name}': it is not running");
    }

    private void Raise(int @event, int detail) => _context.Events.Raise(Ref, @event, detail);

    private ILogger Log => _context.Logger;

    private static string ToJson(VmmRecord record) => JsonSerializer.Serialize(record, VmmJsonContext.Default.VmmRecord);

    private static VmmRecord? ReadRecord(string path)
    {
        try { return JsonSerializer.Deserialize(File.ReadAllText(path), VmmJsonContext.Default.VmmRecord); }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>
    /// The machine for a boot: each NIC on a virtual network on its tap, volume disks resolved to their files now
    /// (a missing pool or volume refuses the start).
    /// </summary>
    private MachineConfig MachineConfigForRun(IReadOnlyList<string> networkTaps) =>
        DiskVolume.Resolve(_definition.WithNetworkTaps(i => networkTaps[i]), _context.Volumes).ToMachineConfig(Paths.ConsoleSocket, Paths.VsockSocket);
}
