using System.Text;
using System.Text.Json;
using KvmSharp.Manager.Domains;
using KvmSharp.State;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Networks;

/// <summary>
/// One network: its definition on disk (unless transient) and, while active, what it made on the host: the bridge
/// with the host's address, the nftables table and dnsmasq, all written down in <see cref="ActiveNetworkRecord"/>.
/// Changes to one network run one at a time (<see cref="_operation"/>).
/// </summary>
internal sealed class ManagedNetwork
{
    private readonly Lock _operation = new();
    private readonly ILogger _log;
    private volatile NetworkDefinition _definition;
    private volatile ActiveNetworkRecord? _active;
    private volatile NetworkDefinition? _live;

    public ManagedNetwork(NetworkDefinition definition, NetworkPaths paths, bool persistent, ILogger log)
    {
        _definition = definition;
        Paths = paths;
        Persistent = persistent;
        _log = log;
    }

    public NetworkPaths Paths { get; }
    public NetworkDefinition Definition => _definition;
    /// <summary>What runs: the definition the network was started with, or the definition while inactive.</summary>
    public NetworkDefinition Live => _live ?? _definition;
    public string Name => _definition.Name;
    public Guid Uuid => _definition.Uuid;
    public NetworkRef Ref => new(Name, Uuid);
    public bool IsActive => _active is not null;
    public bool Persistent { get; private set; }
    public bool Autostart => File.Exists(Paths.Autostart);
    /// <summary>Set once gone (undefined while inactive, or a transient one destroyed).</summary>
    public bool Removed { get; private set; }

    public void WriteDefinition(NetworkDefinition definition)
    {
        Directory.CreateDirectory(Paths.Directory);
        AtomicFile.WriteAllBytes(Paths.Definition, Encoding.UTF8.GetBytes(NetworkXmlWriter.Format(definition)));
    }

    public void Redefine(NetworkDefinition definition)
    {
        lock (_operation)
        {
            WriteDefinition(definition);
            _definition = definition;
            Persistent = true;
        }
    }

    public void SetAutostart(bool on)
    {
        lock (_operation)
        {
            if (!Persistent)
                throw new ManagerException(ManagerError.OperationInvalid, "Requested operation is not valid: cannot set autostart for transient network");
            if (on) AtomicFile.WriteAllBytes(Paths.Autostart, []);
            else if (File.Exists(Paths.Autostart)) File.Delete(Paths.Autostart);
        }
    }

    /// <summary>Removes the definition; an active network becomes transient. Returns whether the network is gone entirely.</summary>
    public bool Undefine()
    {
        lock (_operation)
        {
            if (!Persistent) throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: network '{Name}' is not persistent");
            foreach (var file in (string[])[Paths.Definition, Paths.Autostart])
                if (File.Exists(file)) File.Delete(file);
            Persistent = false;
            if (_active is null)
            {
                DeleteDirectory();
                Removed = true;
            }
            return Removed;
        }
    }

    /// <summary>Makes the bridge, the nftables table and dnsmasq; anything made is taken down again when a later step fails.</summary>
    public void Start()
    {
        lock (_operation)
        {
            if (_active is not null) throw new ManagerException(ManagerError.OperationInvalid, "Requested operation is not valid: network is already active");
            var network = _definition;
            string bridge = network.Bridge!;
            if (HostLinks.Exists(bridge))
                throw new ManagerException(ManagerError.InternalError, $"internal error: bridge '{bridge}' of network '{Name}' already exists on the host");
            if (network.Ip is { } ip && HostLinks.UsedSubnets().FirstOrDefault(s => s.Overlaps(ip.Subnet)) is { Prefix: > 0 } used)
                throw new ManagerException(ManagerError.InternalError, $"internal error: Network {ip.Subnet} of '{Name}' is already in use on the host ({used})");
            Directory.CreateDirectory(Paths.Directory);
            string table = NftRuleset.TableName(network.Uuid);
            (int Pid, ulong StartTime) dnsmasq = (0, 0);
            try
            {
                HostLinks.CreateBridge(network);
                if (network.Forward == ForwardMode.Nat) HostLinks.EnableForwarding();
                HostCommand.NftScript(NftRuleset.Script(table, network));
                if (network.Ip is not null) dnsmasq = StartDnsmasq(network);
                var record = new ActiveNetworkRecord(NetworkXmlWriter.Format(network), bridge, table, dnsmasq.Pid, dnsmasq.StartTime);
                AtomicFile.WriteAllBytes(Paths.Active, JsonSerializer.SerializeToUtf8Bytes(record, NetworkJsonContext.Default.ActiveNetworkRecord));
                _active = record;
                _live = network;
            }
            catch
            {
                TakeDown(bridge, table, dnsmasq.Pid, dnsmasq.StartTime);
                throw;
            }
            _log.LogInformation("network {Name}: started on bridge {Bridge} (dnsmasq pid {Pid})", Name, bridge, dnsmasq.Pid);
        }
    }

    /// <summary>Takes everything down; returns whether the network is gone entirely (a transient one).</summary>
    public bool Destroy()
    {
        lock (_operation)
        {
            var active = _active ?? throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: network '{Name}' is not active");
            TakeDown(active.Bridge, active.NftTable, active.DnsmasqPid, active.DnsmasqStartTime);
            foreach (var file in (string[])[Paths.Active, Paths.DnsmasqConf, Paths.DnsmasqPid, Paths.Leases, Path.ChangeExtension(Paths.DnsmasqConf, ".log")])
                if (File.Exists(file)) File.Delete(file);
            _active = null;
            _live = null;
            _log.LogInformation("network {Name}: destroyed", Name);
            if (!Persistent)
            {
                DeleteDirectory();
                Removed = true;
            }
            return Removed;
        }
    }

    /// <summary>
    /// After a daemon restart: takes up the network recorded as active, making again only what is missing (the
    /// bridge, the nft table, dnsmasq); what is there, and the taps of running VMs on the bridge, are left alone.
    /// </summary>
    public void Adopt()
    {
        lock (_operation)
        {
            if (!File.Exists(Paths.Active)) return;
            ActiveNetworkRecord? record;
            NetworkDefinition live;
            try
            {
                record = JsonSerializer.Deserialize(File.ReadAllBytes(Paths.Active), NetworkJsonContext.Default.ActiveNetworkRecord);
                live = NetworkXmlReader.Parse(record?.Xml ?? "");
            }
            catch (Exception e) when (e is JsonException or ManagerException or IOException)
            {
                _log.LogError("network {Name}: its record {File} cannot be read ({Message}); treating it as inactive", Name, Paths.Active, e.Message);
                return;
            }
            if (record is null) return;
            var repaired = new List<string>();
            if (!HostLinks.Exists(record.Bridge))
            {
                HostLinks.CreateBridge(live);
                repaired.Add("bridge");
            }
            if (!HostCommand.TryNft("list", "table", "ip", record.NftTable))
            {
                HostCommand.NftScript(NftRuleset.Script(record.NftTable, live));
                repaired.Add("nftables table");
            }
            if (live.Forward == ForwardMode.Nat) HostLinks.EnableForwarding();
            if (live.Ip is not null && !DnsmasqProcess.IsRunning(record.DnsmasqPid, record.DnsmasqStartTime, Paths.DnsmasqConf))
            {
                var (pid, start) = StartDnsmasq(live);
                record = record with { DnsmasqPid = pid, DnsmasqStartTime = start };
                AtomicFile.WriteAllBytes(Paths.Active, JsonSerializer.SerializeToUtf8Bytes(record, NetworkJsonContext.Default.ActiveNetworkRecord));
                repaired.Add("dnsmasq");
            }
            _active = record;
            _live = live;
            _log.LogInformation("network {Name}: adopted on bridge {Bridge}{Repaired}", Name, record.Bridge,
                repaired.Count == 0 ? "" : $" (made again: {string.Join(", ", repaired)})");
        }
    }

    public string BridgeName => Live.Bridge ?? "";

    public IReadOnlyList<DhcpLease> Leases(string? mac)
    {
        if (_active is null || Live.Ip is not { } ip) return [];
        var leases = DhcpLeaseFile.Read(Paths.Leases, BridgeName, (uint)ip.Prefix);
        return mac is null ? leases : [.. leases.Where(l => string.Equals(l.Mac, mac, StringComparison.OrdinalIgnoreCase))];
    }

    /// <summary>The bridge of an active network, for a guest's tap; else libvirt's refusal.</summary>
    public string RequireActiveBridge()
    {
        if (_active is not { } active) throw new ManagerException(ManagerError.OperationInvalid, $"Requested operation is not valid: network '{Name}' is not active");
        return active.Bridge;
    }

    private (int Pid, ulong StartTime) StartDnsmasq(NetworkDefinition network)
    {
        File.WriteAllText(Paths.DnsmasqConf, DnsmasqConfig.Build(network, Paths, DnsmasqConfig.HostNameservers()));
        return DnsmasqProcess.Start(Paths.DnsmasqConf, Paths.DnsmasqPid);
    }

    private void TakeDown(string bridge, string table, int dnsmasqPid, ulong dnsmasqStart)
    {
        try { if (dnsmasqPid > 0) DnsmasqProcess.Stop(dnsmasqPid, dnsmasqStart, Paths.DnsmasqConf); }
        catch (ManagerException e) { _log.LogError("network {Name}: {Message}", Name, e.Message); }
        if (HostCommand.TryNft("list", "table", "ip", table)) HostCommand.TryNft("delete", "table", "ip", table);
        HostLinks.Delete(bridge);
    }

    private void DeleteDirectory()
    {
        try { if (Directory.Exists(Paths.Directory)) Directory.Delete(Paths.Directory, recursive: true); }
        catch (IOException e) { _log.LogWarning("network {Name}: cannot remove {Dir}: {Message}", Name, Paths.Directory, e.Message); }
    }
}
