namespace KvmSharp.Manager.Networks;

/// <summary>A network as clients name it (remote_nonnull_network).</summary>
public readonly record struct NetworkRef(string Name, Guid Uuid);

/// <summary>
/// Everything the manager does with virtual networks, whatever protocol asks: libvirt's network driver. Every method
/// may throw <see cref="Domains.ManagerException"/>; <see cref="Domains.ManagerError.NoNetwork"/> for an unknown
/// network. Thread-safe.
/// </summary>
public interface INetworkDriver
{
    IReadOnlyList<NetworkRef> ListNetworks();
    NetworkRef LookupByName(string name);
    NetworkRef LookupByUuid(Guid uuid);

    /// <summary>Defines a network (persistent) or replaces the definition of one with the same name and UUID; an active one takes it at its next start.</summary>
    NetworkRef Define(string xml);
    /// <summary>net-create: a transient network, started at once, gone when destroyed.</summary>
    NetworkRef CreateTransient(string xml);
    /// <summary>Removes the definition; an active network runs on as a transient one until destroyed (as libvirt).</summary>
    void Undefine(NetworkRef network);
    void Start(NetworkRef network);
    void Destroy(NetworkRef network);

    /// <summary>The network XML; flags: VIR_NETWORK_XML_INACTIVE 1 (the definition, not what runs).</summary>
    string GetXml(NetworkRef network, uint flags);
    bool IsActive(NetworkRef network);
    bool IsPersistent(NetworkRef network);
    bool GetAutostart(NetworkRef network);
    void SetAutostart(NetworkRef network, bool autostart);
    string GetBridgeName(NetworkRef network);
    /// <summary>The leases dnsmasq has handed out, all or those of <paramref name="mac"/>.</summary>
    IReadOnlyList<DhcpLease> GetDhcpLeases(NetworkRef network, string? mac);
}
