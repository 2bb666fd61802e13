using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// The daemon's virtual networks: definitions under STATE/networks/NAME/, each active one a bridge, an nftables table
/// and a dnsmasq (<see cref="ManagedNetwork"/>). On start it loads every definition and adopts the networks recorded
/// as active; <see cref="StartAutostartNetworks"/> starts the rest that should run. It is also what a domain's
/// &lt;interface type='network'&gt; plugs into (<see cref="INetworkPorts"/>): a tap per NIC on the network's bridge.
/// A <c>default</c> network is defined the first time networks are used (<see cref="DefaultNetwork"/>).
/// </summary>
public sealed class NetworkDriver : INetworkDriver, INetworkPorts
{
    private readonly Lock _registry = new();
    private readonly Lock _taps = new();
    private readonly List<ManagedNetwork> _networks = [];
    private readonly string _stateDirectory;
    private readonly ILogger _log;
    private int _defaultChecked;

    /// <summary>The user the domains' taps belong to (the VMM user of a root daemon), so its VMMs can attach; null: root only.</summary>
    public string? TapOwner { get; init; }

    public NetworkDriver(string stateDirectory, ILogger log)
    {
        _stateDirectory = Path.GetFullPath(stateDirectory);
        _log = log;
        string root = NetworkPaths.Root(_stateDirectory);
        Directory.CreateDirectory(root);
        foreach (var directory in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            var paths = new NetworkPaths(directory);
            try
            {
                bool persistent = File.Exists(paths.Definition);
                string? xml = persistent ? File.ReadAllText(paths.Definition)
                    : File.Exists(paths.Active) ? System.Text.Json.JsonSerializer.Deserialize(File.ReadAllBytes(paths.Active), NetworkJsonContext.Default.ActiveNetworkRecord)?.Xml
                    : null;
                if (xml is null) continue;
                var definition = NetworkXmlReader.Parse(xml);
                if (definition.Name != Path.GetFileName(directory))
                    throw new ManagerException(ManagerError.XmlError, $"it names the network '{definition.Name}'");
                _networks.Add(new ManagedNetwork(definition, paths, persistent, log));
            }
            catch (Exception e) when (e is ManagerException or IOException or System.Text.Json.JsonException)
            {
                log.LogError("ignoring the network in {Dir}: {Message}", directory, e.Message);
            }
        }
        foreach (var network in _networks)
        {
            try { network.Adopt(); }
            catch (ManagerException e) { log.LogError("network {Name}: cannot adopt it: {Message}", network.Name, e.Message); }
        }
    }

    /// <summary>Starts every autostart network that is not active; one that fails is logged and the others go on.</summary>
    public void StartAutostartNetworks()
    {
        foreach (var network in All().Where(n => n.Autostart && !n.IsActive))
        {
            try { network.Start(); }
            catch (ManagerException e) { _log.LogError("autostart of network {Name} failed: {Message}", network.Name, e.Message); }
        }
    }

    private List<ManagedNetwork> All()
    {
        lock (_registry) return [.. _networks.Where(n => !n.Removed)];
    }

    private ManagedNetwork Find(NetworkRef network)
    {
        EnsureDefault();
        lock (_registry)
            return _networks.FirstOrDefault(n => n.Uuid == network.Uuid && !n.Removed)
                   ?? throw NoNetwork($"no network with matching uuid '{network.Uuid}' ({network.Name})");
    }

    private ManagedNetwork FindByName(string name)
    {
        EnsureDefault();
        lock (_registry)
            return _networks.FirstOrDefault(n => n.Name == name && !n.Removed) ?? throw NoNetwork($"no network with matching name '{name}'");
    }

    private static ManagerException NoNetwork(string what) => new(ManagerError.NoNetwork, $"Network not found: {what}");

    public IReadOnlyList<NetworkRef> ListNetworks()
    {
        EnsureDefault();
        return [.. All().Select(n => n.Ref)];
    }

    public NetworkRef LookupByName(string name) => FindByName(name).Ref;

    public NetworkRef LookupByUuid(Guid uuid)
    {
        EnsureDefault();
        lock (_registry) return (_networks.FirstOrDefault(n => n.Uuid == uuid && !n.Removed) ?? throw NoNetwork($"no network with matching uuid '{uuid}'")).Ref;
    }

    public NetworkRef Define(string xml)
    {
        EnsureDefault();
        return Add(NetworkXmlReader.Parse(xml), persistent: true).Ref;
    }

    public NetworkRef CreateTransient(string xml)
    {
        EnsureDefault();
        var definition = NetworkXmlReader.Parse(xml);
        lock (_registry)
            if (_networks.Any(n => !n.Removed && (n.Name == definition.Name || n.Uuid == definition.Uuid)))
                throw new ManagerException(ManagerError.OperationFailed, $"operation failed: network '{definition.Name}' already exists");
        var network = Add(definition, persistent: false);
        try { network.Start(); }
        catch
        {
            lock (_registry) _networks.Remove(network);
            throw;
        }
        return network.Ref;
    }

    /// <summary>Adds a network or redefines the one with the same name and UUID; the bridge name, when none is given, is the lowest free virbrN.</summary>
    private ManagedNetwork Add(NetworkDefinition definition, bool persistent)
    {
        lock (_registry)
        {
            var existing = _networks.FirstOrDefault(n => !n.Removed && (n.Name == definition.Name || n.Uuid == definition.Uuid));
            if (existing is not null && (existing.Name != definition.Name || existing.Uuid != definition.Uuid))
                throw new ManagerException(ManagerError.OperationFailed, existing.Name == definition.Name
                    ? $"operation failed: network '{definition.Name}' already exists with uuid {existing.Uuid}"
                    : $"operation failed: network '{existing.Name}' already exists with uuid {definition.Uuid}");
            var others = _networks.Where(n => !n.Removed && n != existing).ToList();
            if (definition.Bridge is null)
                definition = definition with { Bridge = existing?.Definition.Bridge ?? FreeBridgeName(others.Select(n => n.Definition.Bridge)) };
            else if (others.FirstOrDefault(n => n.Definition.Bridge == definition.Bridge || n.Live.Bridge == definition.Bridge) is { } user)
                throw new ManagerException(ManagerError.InternalError, $"internal error: bridge name '{definition.Bridge}' already in use by network '{user.Name}'");
            if (existing is not null)
            {
                if (persistent) existing.Redefine(definition);
                return existing;
            }
            if (System.Text.Encoding.UTF8.GetByteCount(definition.Name) > 200 || DomainNames.Problem(definition.Name) is not null)
                throw new ManagerException(ManagerError.InvalidArg, $"invalid argument: network name '{definition.Name}'");
            var network = new ManagedNetwork(definition, NetworkPaths.For(_stateDirectory, definition.Name), persistent, _log);
            if (persistent) network.WriteDefinition(definition);
            _networks.Add(network);
            return network;
        }
    }

    private static string FreeBridgeName(IEnumerable<string?> defined)
    {
        var used = new HashSet<string>(defined.OfType<string>(), StringComparer.Ordinal);
        used.UnionWith(HostLinks.LinkNames());
        for (int n = 0; ; n++)
            if (!used.Contains($"virbr{n}")) return $"virbr{n}";
    }

    public void Undefine(NetworkRef network)
    {
        var managed = Find(network);
        if (managed.Undefine()) lock (_registry) _networks.Remove(managed);
    }

    public void Start(NetworkRef network) => Find(network).Start();

    public void Destroy(NetworkRef network)
    {
        var managed = Find(network);
        if (managed.Destroy()) lock (_registry) _networks.Remove(managed);
    }

    public string GetXml(NetworkRef network, uint flags)
    {
        const uint Inactive = 1;
        if ((flags & ~Inactive) != 0)
            throw new ManagerException(ManagerError.InvalidArg, $"unsupported flags (0x{flags & ~Inactive:x}) in function virNetworkGetXMLDesc");
        var managed = Find(network);
        return NetworkXmlWriter.Format((flags & Inactive) != 0 && managed.Persistent ? managed.Definition : managed.Live);
    }

    public bool IsActive(NetworkRef network) => Find(network).IsActive;
    public bool IsPersistent(NetworkRef network) => Find(network).Persistent;
    public bool GetAutostart(NetworkRef network) => Find(network).Autostart;
    public void SetAutostart(NetworkRef network, bool autostart) => Find(network).SetAutostart(autostart);
    public string GetBridgeName(NetworkRef network) => Find(network).BridgeName;
    public IReadOnlyList<DhcpLease> GetDhcpLeases(NetworkRef network, string? mac) => Find(network).Leases(mac);

    // ---- the domains' side: a tap per NIC ----

    public IReadOnlyList<string> Plug(string domain, IReadOnlyList<NetworkPortRequest> nics)
    {
        var taps = new List<string>();
        lock (_taps)
        {
            try
            {
                var links = HostLinks.LinkNames();
                foreach (var nic in nics)
                {
                    string bridge = FindByName(nic.Network).RequireActiveBridge();
                    string tap;
                    if (nic.Tap is { } wanted)
                    {
                        if (links.Contains(wanted) || !wanted.StartsWith("vnet", StringComparison.Ordinal))
                            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: the saved machine opens tap '{wanted}', which is in use");
                        tap = wanted;
                    }
                    else
                    {
                        int n = 0;
                        while (links.Contains($"vnet{n}")) n++;
                        tap = $"vnet{n}";
                    }
                    HostLinks.CreateTap(tap, bridge, nic.Mac, TapOwner);
                    links.Add(tap);
                    taps.Add(tap);
                    _log.LogInformation("domain {Domain}: tap {Tap} on bridge {Bridge} of network {Network}", domain, tap, bridge, nic.Network);
                }
            }
            catch
            {
                Unplug(taps);
                throw;
            }
        }
        return taps;
    }

    public void Unplug(IEnumerable<string> taps)
    {
        foreach (var tap in taps)
            if (tap.StartsWith("vnet", StringComparison.Ordinal)) HostLinks.Delete(tap);
    }

    // ---- the default network ----

    /// <summary>
    /// The first time networks are used in a state directory (a net-* call, or a domain on network 'default'), a
    /// <c>default</c> NAT network is defined, marked autostart and started, as a libvirt installation ships one;
    /// once only (a mark file), so undefining it is for good.
    /// </summary>
    private void EnsureDefault()
    {
        if (Volatile.Read(ref _defaultChecked) != 0) return;
        lock (_registry)
        {
            if (_defaultChecked != 0) return;
            _defaultChecked = 1;
            string mark = Path.Combine(NetworkPaths.Root(_stateDirectory), ".default-defined");
            if (File.Exists(mark)) return;
            if (_networks.Any(n => n.Name == DefaultNetwork.Name && !n.Removed))
            {
                File.WriteAllText(mark, "");
                return;
            }
            ManagedNetwork network;
            try
            {
                var definition = DefaultNetwork.Choose(
                    HostLinks.UsedSubnets().Concat(_networks.Select(n => n.Definition.Ip?.Subnet).OfType<Ipv4Subnet>()),
                    FreeBridgeName(_networks.Select(n => n.Definition.Bridge)));
                network = new ManagedNetwork(definition, NetworkPaths.For(_stateDirectory, definition.Name), persistent: true, _log);
                network.WriteDefinition(definition);
                network.SetAutostart(true);
                _networks.Add(network);
                File.WriteAllText(mark, "");
            }
            catch (ManagerException e)
            {
                _log.LogError("cannot define the default network: {Message}", e.Message);
                return;
            }
            _log.LogInformation("defined the default network on {Subnet}, bridge {Bridge}", network.Definition.Ip!.Subnet, network.Definition.Bridge);
            try { network.Start(); }
            catch (ManagerException e) { _log.LogError("the default network did not start: {Message}", e.Message); }
        }
    }
}
