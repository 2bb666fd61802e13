namespace KvmSharp.Manager.Domains;

/// <summary>
/// Everything the manager does with domains, whatever protocol asks (libvirt's remote protocol today): the split
/// libvirt makes between its remote dispatcher and its hypervisor driver. Every method may throw
/// <see cref="ManagerException"/>; <see cref="ManagerError.NoDomain"/> when a domain is unknown. Thread-safe: many
/// clients call at once. Flags are libvirt's, passed through; an unknown flag bit gets <see cref="ManagerError.InvalidArg"/>.
/// </summary>
public interface IDomainDriver
{
    // ---- lookups ----
    IReadOnlyList<DomainRef> ListDomains();
    DomainRef LookupByName(string name);
    DomainRef LookupByUuid(Guid uuid);
    DomainRef LookupById(int id);

    // ---- inspection ----
    DomainInfo GetInfo(DomainRef domain);
    DomainStateAndReason GetState(DomainRef domain);
    /// <summary>The domain XML; flags: VIR_DOMAIN_XML_SECURE 1, INACTIVE 2 (the definition, not the live state).</summary>
    string GetXml(DomainRef domain, uint flags);
    bool IsActive(DomainRef domain);
    bool IsPersistent(DomainRef domain);
    bool GetAutostart(DomainRef domain);
    void SetAutostart(DomainRef domain, bool autostart);
    IReadOnlyList<VcpuInfo> GetVcpus(DomainRef domain);

    // ---- definitions ----
    /// <summary>Defines a new domain or replaces the definition of one with the same name and UUID.</summary>
    DomainRef Define(string xml, uint flags);
    /// <summary>flags: VIR_DOMAIN_UNDEFINE_MANAGED_SAVE 1, SNAPSHOTS_METADATA 2.</summary>
    void Undefine(DomainRef domain, uint flags);

    // ---- life cycle ----
    /// <summary>Starts (from its managed save image when one exists); flags: VIR_DOMAIN_START_PAUSED 1. Returns the domain with its new id.</summary>
    DomainRef Start(DomainRef domain, uint flags);
    /// <summary>Asks the guest to power off (ACPI power button) and returns at once.</summary>
    void Shutdown(DomainRef domain, uint flags);
    /// <summary>Stops the domain at once (kills its VMM).</summary>
    void Destroy(DomainRef domain, uint flags);
    void Reboot(DomainRef domain, uint flags);
    void Suspend(DomainRef domain);
    void Resume(DomainRef domain);

    // ---- save and restore: memory and device state to a file; the disks are the domain's own ----
    /// <summary>flags: VIR_DOMAIN_SAVE_RUNNING 2, PAUSED 4; <paramref name="xml"/> (may be null) an updated definition.</summary>
    void Save(DomainRef domain, string path, string? xml, uint flags);
    void Restore(string path, string? xml, uint flags);
    void ManagedSave(DomainRef domain, uint flags);
    bool HasManagedSave(DomainRef domain);
    void RemoveManagedSave(DomainRef domain);

    // ---- snapshots: full system, memory plus disks ----
    SnapshotRef CreateSnapshot(DomainRef domain, string xml, uint flags);
    IReadOnlyList<SnapshotRef> ListSnapshots(DomainRef domain, uint flags);
    SnapshotRef LookupSnapshot(DomainRef domain, string name);
    string GetSnapshotXml(SnapshotRef snapshot, uint flags);
    /// <summary>The current snapshot, or null when there is none.</summary>
    SnapshotRef? CurrentSnapshot(DomainRef domain);
    /// <summary>The parent, or null for a root snapshot.</summary>
    SnapshotRef? SnapshotParent(SnapshotRef snapshot);
    /// <summary>flags: VIR_DOMAIN_SNAPSHOT_REVERT_RUNNING 1, PAUSED 2.</summary>
    void RevertToSnapshot(SnapshotRef snapshot, uint flags);
    /// <summary>flags: VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN 1, METADATA_ONLY 2.</summary>
    void DeleteSnapshot(SnapshotRef snapshot, uint flags);

    // ---- console and events ----
    /// <summary>
    /// Attaches to the domain's serial console. flags: VIR_DOMAIN_CONSOLE_FORCE 1 takes it from another session
    /// (whose sink is closed with an error); without it a second session is refused.
    /// </summary>
    IConsoleSession OpenConsole(DomainRef domain, string? device, uint flags, IConsoleSink sink);
    /// <summary>Every lifecycle event from now on, until the subscription is disposed; called on no particular thread.</summary>
    IDisposable SubscribeLifecycle(Action<DomainLifecycleEvent> handler);

    // ---- tuning and statistics (virsh memtune, schedinfo, domstats) ----
    IReadOnlyList<TypedParameter> GetMemoryParameters(DomainRef domain) =>
        throw new ManagerException(ManagerError.NoSupport, "this function is not supported by the connection driver: virDomainGetMemoryParameters");
    IReadOnlyList<TypedParameter> GetSchedulerParameters(DomainRef domain) =>
        throw new ManagerException(ManagerError.NoSupport, "this function is not supported by the connection driver: virDomainGetSchedulerParameters");
    /// <summary>The stats of <paramref name="groups"/> (virDomainStatsTypes; 0: all supported) for each domain.</summary>
    IReadOnlyList<DomainStatsRecord> GetStats(IReadOnlyList<DomainRef> domains, uint groups) =>
        throw new ManagerException(ManagerError.NoSupport, "this function is not supported by the connection driver: virConnectGetAllDomainStats");
}
