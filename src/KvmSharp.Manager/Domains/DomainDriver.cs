using KvmSharp.Manager.DomainXml;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// The manager's domains: persistent definitions under the state directory, each run as its own VMM process.
/// On start it loads every definition, reattaches to the VMMs still running from before (a daemon restart leaves
/// VMs alone) and starts the autostart domains that are not running.
/// </summary>
public sealed class DomainDriver : IDomainDriver
{
    private readonly Lock _registry = new();
    private readonly List<ManagedDomain> _domains = [];
    private readonly DomainContext _context;
    private readonly LifecycleHub _events = new();

    /// <param name="volumes">Where &lt;disk type='volume'&gt; finds its files (the daemon's <see cref="Storage.StorageDriver"/>).</param>
    /// <param name="networks">Where &lt;interface type='network'&gt; gets its taps (the daemon's network driver).</param>
    /// <param name="confinement">How VMMs are confined (the VMM user, the host's cgroups); null: not at all.</param>
    public DomainDriver(StateDirectory state, string vmmProgram, ILogger logger, Storage.IVolumeResolver? volumes = null, INetworkPorts? networks = null,
                        (Confinement.VmmUser? User, Confinement.CgroupHost Cgroups)? confinement = null)
    {
        _context = new DomainContext(state, vmmProgram, _events, logger, networks)
        {
            Volumes = volumes, VmmUser = confinement?.User,
            Cgroups = confinement?.Cgroups ?? new Confinement.CgroupHost(Confinement.CgroupVersion.None, "", new Dictionary<string, string>()),
        };
        Directory.CreateDirectory(state.DomainsRoot);
        StateLeftovers.Remove(state, logger);
        foreach (var directory in Directory.EnumerateDirectories(state.DomainsRoot).Order(StringComparer.Ordinal))
        {
            string file = Path.Combine(directory, "domain.xml");
            if (!File.Exists(file)) continue;
            try
            {
                var definition = DomainXmlReader.Parse(File.ReadAllText(file));
                if (definition.Name != Path.GetFileName(directory))
                    throw new ManagerException(ManagerError.XmlError, $"it names the domain '{definition.Name}'");
                _domains.Add(new ManagedDomain(definition, _context));
            }
            catch (Exception e) when (e is ManagerException or IOException)
            {
                logger.LogError("ignoring the definition {File}: {Message}", file, e.Message);
            }
        }
        foreach (var domain in _domains)
        {
            domain.Reattach();
            domain.RecoverInterruptedSnapshots();
        }
    }

    /// <summary>Starts every autostart domain that is not running; one that fails is logged and the others go on.</summary>
    public void StartAutostartDomains()
    {
        foreach (var domain in All().Where(d => d.Autostart && !d.IsActive))
        {
            try { domain.Start(0); }
            catch (ManagerException e) { _context.Logger.LogError("autostart of domain {Name} failed: {Message}", domain.Name, e.Message); }
        }
    }

    private List<ManagedDomain> All()
    {
        lock (_registry) return [.. _domains];
    }

    private ManagedDomain Find(DomainRef domain)
    {
        lock (_registry)
            return _domains.FirstOrDefault(d => d.Uuid == domain.Uuid && !d.Removed)
                   ?? throw NoDomain($"no domain with matching uuid '{domain.Uuid}' ({domain.Name})");
    }

    private static ManagerException NoDomain(string what) => new(ManagerError.NoDomain, $"Domain not found: {what}");

    public IReadOnlyList<DomainRef> ListDomains() => [.. All().Where(d => !d.Removed).Select(d => d.Ref)];

    public DomainRef LookupByName(string name)
    {
        lock (_registry) return (_domains.FirstOrDefault(d => d.Name == name && !d.Removed) ?? throw NoDomain($"no domain with matching name '{name}'")).Ref;
    }

    public DomainRef LookupByUuid(Guid uuid)
    {
        lock (_registry) return (_domains.FirstOrDefault(d => d.Uuid == uuid && !d.Removed) ?? throw NoDomain($"no domain with matching uuid '{uuid}'")).Ref;
    }

    public DomainRef LookupById(int id)
    {
        lock (_registry) return (_domains.FirstOrDefault(d => d.Id == id && id > 0 && !d.Removed) ?? throw NoDomain($"no domain with matching id {id}")).Ref;
    }

    public DomainInfo GetInfo(DomainRef domain) => Find(domain).Info;
    public DomainStateAndReason GetState(DomainRef domain) => Find(domain).State;
    public string GetXml(DomainRef domain, uint flags)
    {
        Flags.Check(flags, Flags.XmlSecure | Flags.XmlInactive | Flags.XmlUpdateCpu | Flags.XmlMigratable);
        return Find(domain).Xml(inactive: (flags & (Flags.XmlInactive | Flags.XmlMigratable)) != 0);
    }
    public bool IsActive(DomainRef domain) => Find(domain).IsActive;
    public bool IsPersistent(DomainRef domain) => !Find(domain).Removed;
    public bool GetAutostart(DomainRef domain) => Find(domain).Autostart;
    public void SetAutostart(DomainRef domain, bool autostart) => Find(domain).SetAutostart(autostart);
    public IReadOnlyList<VcpuInfo> GetVcpus(DomainRef domain) => Find(domain).Vcpus;

    public DomainRef Define(string xml, uint flags)
    {
        Flags.Check(flags, Flags.DefineValidate);
        var definition = DomainXmlReader.Parse(xml);
        CheckName(definition.Name);
        if (definition.Os is { Uefi: true, Nvram: null })
        {
            // As libvirt: a UEFI domain without a store of its own gets one here, written into its definition.
            Directory.CreateDirectory(_context.State.NvramRoot);
            definition = definition with { Os = definition.Os with { Nvram = _context.State.DefaultNvram(definition.Name) } };
        }
        ManagedDomain? existing;
        bool added = false;
        lock (_registry)
        {
            existing = _domains.FirstOrDefault(d => !d.Removed && (d.Name == definition.Name || d.Uuid == definition.Uuid));
            if (existing is not null && (existing.Name != definition.Name || existing.Uuid != definition.Uuid))
                throw new ManagerException(ManagerError.OperationFailed, existing.Name == definition.Name
                    ? $"operation failed: domain '{definition.Name}' already exists with uuid {existing.Uuid}"
                    : $"operation failed: domain '{existing.Name}' already exists with uuid {definition.Uuid}");
            if (existing is null)
            {
                var domain = new ManagedDomain(definition, _context);
                domain.WriteDefinition(definition);
                _domains.Add(domain);
                existing = domain;
                added = true;
            }
        }
        if (!added) existing.Redefine(definition);
        _events.Raise(existing.Ref, LifecycleEvent.Defined, added ? LifecycleEvent.DefinedAdded : LifecycleEvent.DefinedUpdated);
        return existing.Ref;
    }

    /// <summary>
    /// A domain's name is its directory's name (the XML reader checked it: <see cref="DomainNames"/>), and its
    /// sockets' paths must fit sockaddr_un (108 bytes).
    /// </summary>
    private void CheckName(string name)
    {
        string socket = _context.State.For(name).ConsoleSocket;
        if (System.Text.Encoding.UTF8.GetByteCount(socket) > 107)
            throw new ManagerException(ManagerError.InvalidArg, $"invalid argument: domain name '{name}' is too long for a socket path under {_context.State.Root}");
    }

    public void Undefine(DomainRef domain, uint flags)
    {
        var managed = Find(domain);
        var before = managed.Ref;
        managed.Undefine(flags);
        lock (_registry) _domains.Remove(managed);
        _events.Raise(before, LifecycleEvent.Undefined, LifecycleEvent.UndefinedRemoved);
    }

    public DomainRef Start(DomainRef domain, uint flags) => Find(domain).Start(flags);
    public void Shutdown(DomainRef domain, uint flags) => Find(domain).Shutdown(flags);
    public void Destroy(DomainRef domain, uint flags) => Find(domain).Destroy(flags);
    public void Reboot(DomainRef domain, uint flags) => Find(domain).Reboot(flags);
    public void Suspend(DomainRef domain) => Find(domain).Suspend();
    public void Resume(DomainRef domain) => Find(domain).Resume();

    public void Save(DomainRef domain, string path, string? xml, uint flags)
    {
        if (xml is not null) throw new ManagerException(ManagerError.ConfigUnsupported, "unsupported configuration: saving with an updated domain XML");
        Find(domain).Save(path, flags);
    }

    /// <summary>Restores a save image into its domain (found by UUID, or defined from the image's XML when it is gone).</summary>
    public void Restore(string path, string? xml, uint flags)
    {
        if (xml is not null) throw new ManagerException(ManagerError.ConfigUnsupported, "unsupported configuration: restoring with an updated domain XML");
        if (!Path.IsPathFullyQualified(path))
            throw new ManagerException(ManagerError.InvalidArg, $"the save file '{path}' must be an absolute path (the daemon does not share your working directory)");
        var (domainXml, state) = SaveImage.Read(path);
        var definition = DomainXmlReader.Parse(domainXml);
        ManagedDomain? managed;
        lock (_registry) managed = _domains.FirstOrDefault(d => d.Uuid == definition.Uuid && !d.Removed);
        managed ??= Find(Define(domainXml, 0));
        managed.Restore(path, state, flags);
    }

    public void ManagedSave(DomainRef domain, uint flags) => Find(domain).ManagedSave(flags);
    public bool HasManagedSave(DomainRef domain) => Find(domain).HasManagedSave;
    public void RemoveManagedSave(DomainRef domain) => Find(domain).RemoveManagedSave();

    public SnapshotRef CreateSnapshot(DomainRef domain, string xml, uint flags)
    {
        var managed = Find(domain);
        return new SnapshotRef(managed.CreateSnapshot(xml, flags), managed.Ref);
    }

    public IReadOnlyList<SnapshotRef> ListSnapshots(DomainRef domain, uint flags)
    {
        var managed = Find(domain);
        return [.. managed.SnapshotNames().Select(n => new SnapshotRef(n, managed.Ref))];
    }

    public SnapshotRef LookupSnapshot(DomainRef domain, string name)
    {
        var managed = Find(domain);
        managed.Metadata(name);
        return new SnapshotRef(name, managed.Ref);
    }

    public string GetSnapshotXml(SnapshotRef snapshot, uint flags) => SnapshotXml.Format(Find(snapshot.Domain).Metadata(snapshot.Name));

    public SnapshotRef? CurrentSnapshot(DomainRef domain)
    {
        var managed = Find(domain);
        return managed.CurrentSnapshotName() is { } name ? new SnapshotRef(name, managed.Ref) : null;
    }

    public SnapshotRef? SnapshotParent(SnapshotRef snapshot)
    {
        var managed = Find(snapshot.Domain);
        return managed.Metadata(snapshot.Name).Parent is { } parent ? new SnapshotRef(parent, managed.Ref) : null;
    }

    public void RevertToSnapshot(SnapshotRef snapshot, uint flags) => Find(snapshot.Domain).RevertToSnapshot(snapshot.Name, flags);
    public void DeleteSnapshot(SnapshotRef snapshot, uint flags) => Find(snapshot.Domain).DeleteSnapshot(snapshot.Name, flags);

    public IConsoleSession OpenConsole(DomainRef domain, string? device, uint flags, IConsoleSink sink) => Find(domain).OpenConsole(device, flags, sink);

    public IDisposable SubscribeLifecycle(Action<DomainLifecycleEvent> handler) => _events.Subscribe(handler);

    public IReadOnlyList<TypedParameter> GetMemoryParameters(DomainRef domain) => Find(domain).MemoryParameters;
    public IReadOnlyList<TypedParameter> GetSchedulerParameters(DomainRef domain) => Find(domain).SchedulerParameters;

    public IReadOnlyList<DomainStatsRecord> GetStats(IReadOnlyList<DomainRef> domains, uint groups)
    {
        if ((groups & ~ManagedDomain.StatsSupported) != 0)
            throw new ManagerException(ManagerError.ConfigUnsupported, $"unsupported configuration: Stats types bits 0x{groups & ~ManagedDomain.StatsSupported:x} are not supported by this daemon");
        return [.. domains.Select(d => Find(d)).Select(m => new DomainStatsRecord(m.Ref, m.Stats(groups)))];
    }
}
