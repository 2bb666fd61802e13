using System.Collections.Concurrent;
using System.Xml.Linq;
using KvmSharp.Manager.Domains;

namespace KvmSharp.Tests.Manager.Rpc;

/// <summary>
/// A test double of our own <see cref="IDomainDriver"/> (not of libvirt): domains in a dictionary, every call that
/// changes something recorded in <see cref="Calls"/>, lifecycle events raised like a real driver would.
/// </summary>
internal sealed class FakeDomainDriver : IDomainDriver
{
    internal sealed class Domain(string name, Guid uuid)
    {
        public string Name = name;
        public Guid Uuid = uuid;
        public int Id = -1;
        public DomainState State = DomainState.Shutoff;
        public bool Autostart;
        public bool ManagedSave;
        public int Vcpus = 2;
        public ulong MemoryKib = 524288;
        public List<string> Snapshots = [];
        public string? CurrentSnapshot;
    }

    private readonly Lock _gate = new();
    private readonly Dictionary<Guid, Domain> _domains = [];
    private readonly List<Action<DomainLifecycleEvent>> _handlers = [];
    private int _nextId = 1;

    public ConcurrentQueue<string> Calls { get; } = new();
    public FakeConsole? Console { get; private set; }
    public int Subscribers { get { lock (_gate) return _handlers.Count; } }

    /// <summary>When set, GetInfo throws this (a driver bug the server must survive).</summary>
    public Exception? GetInfoFailure { get; set; }

    public Domain Add(string name, Guid uuid, DomainState state = DomainState.Shutoff)
    {
        var d = new Domain(name, uuid) { State = state };
        if (state != DomainState.Shutoff) d.Id = _nextId++;
        lock (_gate) _domains.Add(uuid, d);
        return d;
    }

    public IReadOnlyList<DomainRef> ListDomains()
    {
        lock (_gate) return [.. _domains.Values.OrderBy(d => d.Name, StringComparer.Ordinal).Select(Ref)];
    }

    public DomainRef LookupByName(string name)
    {
        lock (_gate) return Ref(_domains.Values.FirstOrDefault(d => d.Name == name) ?? throw NoDomain($"no domain with matching name '{name}'"));
    }

    public DomainRef LookupByUuid(Guid uuid) => Ref(Find(uuid));

    public DomainRef LookupById(int id)
    {
        lock (_gate) return Ref(_domains.Values.FirstOrDefault(d => d.Id == id && id >= 0) ?? throw NoDomain($"no domain with matching id {id}"));
    }

    public DomainInfo GetInfo(DomainRef domain)
    {
        if (GetInfoFailure is { } failure) throw failure;
        var d = Find(domain.Uuid);
        return new DomainInfo(d.State, d.MemoryKib, d.MemoryKib, d.Vcpus, d.Id >= 0 ? 1_500_000_000UL : 0);
    }

    public DomainStateAndReason GetState(DomainRef domain) => new(Find(domain.Uuid).State, 1);

    public string GetXml(DomainRef domain, uint flags)
    {
        var d = Find(domain.Uuid);
        return $"<domain type='kvm'><name>{d.Name}</name><uuid>{d.Uuid}</uuid><memory unit='KiB'>{d.MemoryKib}</memory><vcpu>{d.Vcpus}</vcpu>"
            + "<os><type arch='x86_64'>hvm</type></os><devices><disk type='file' device='disk'><source file='/var/lib/kvmsharp/disk.img'/>"
            + "<target dev='vda' bus='virtio'/></disk></devices></domain>";
    }

    public bool IsActive(DomainRef domain) => Find(domain.Uuid).Id >= 0;
    public bool IsPersistent(DomainRef domain) => Find(domain.Uuid) is not null;
    public bool GetAutostart(DomainRef domain) => Find(domain.Uuid).Autostart;

    public void SetAutostart(DomainRef domain, bool autostart)
    {
        Find(domain.Uuid).Autostart = autostart;
        Calls.Enqueue($"autostart {domain.Name} {autostart}");
    }

    public IReadOnlyList<VcpuInfo> GetVcpus(DomainRef domain)
    {
        var d = Find(domain.Uuid);
        if (d.Id < 0) throw new ManagerException(ManagerError.OperationInvalid, "domain is not running");
        return [.. Enumerable.Range(0, d.Vcpus).Select(i => new VcpuInfo((uint)i, 1, 1000UL * (ulong)(i + 1), i))];
    }

    public DomainRef Define(string xml, uint flags)
    {
        XElement root;
        try
        {
            root = XElement.Parse(xml);
        }
        catch (System.Xml.XmlException e)
        {
            throw new ManagerException(ManagerError.XmlError, $"XML error: {e.Message}");
        }
        string name = root.Element("name")?.Value ?? throw new ManagerException(ManagerError.XmlError, "missing domain name");
        Guid uuid = Guid.TryParse(root.Element("uuid")?.Value, out var u) ? u : Guid.NewGuid();
        Domain d;
        lock (_gate)
        {
            d = _domains.Values.FirstOrDefault(x => x.Name == name) ?? new Domain(name, uuid);
            _domains[d.Uuid] = d;
        }
        Calls.Enqueue($"define {name} {flags}");
        Raise(d, 0, 0);   // VIR_DOMAIN_EVENT_DEFINED, ADDED
        return Ref(d);
    }

    public void Undefine(DomainRef domain, uint flags)
    {
        var d = Find(domain.Uuid);
        lock (_gate) _domains.Remove(d.Uuid);
        Calls.Enqueue($"undefine {d.Name} {flags}");
        Raise(d, 1, 0);
    }

    public DomainRef Start(DomainRef domain, uint flags)
    {
        var d = Find(domain.Uuid);
        if (d.Id >= 0) throw new ManagerException(ManagerError.OperationInvalid, "Requested operation is not valid: domain is already running");
        d.Id = _nextId++;
        d.State = (flags & 1) != 0 ? DomainState.Paused : DomainState.Running;
        Calls.Enqueue($"start {d.Name} {flags}");
        Raise(d, 2, 0);   // STARTED, BOOTED
        return Ref(d);
    }

    public void Shutdown(DomainRef domain, uint flags) => Stop(domain, $"shutdown {domain.Name} {flags}", 6);
    public void Destroy(DomainRef domain, uint flags) => Stop(domain, $"destroy {domain.Name} {flags}", 5);

    public void Reboot(DomainRef domain, uint flags) => Calls.Enqueue($"reboot {Running(domain).Name} {flags}");

    public void Suspend(DomainRef domain)
    {
        var d = Running(domain);
        d.State = DomainState.Paused;
        Calls.Enqueue($"suspend {d.Name}");
        Raise(d, 3, 0);
    }

    public void Resume(DomainRef domain)
    {
        var d = Running(domain);
        d.State = DomainState.Running;
        Calls.Enqueue($"resume {d.Name}");
        Raise(d, 4, 0);
    }

    public void Save(DomainRef domain, string path, string? xml, uint flags)
    {
        Calls.Enqueue($"save {domain.Name} {path} {xml is not null} {flags}");
        Stop(domain, $"saved {domain.Name}", 5);
    }

    public void Restore(string path, string? xml, uint flags) => Calls.Enqueue($"restore {path} {flags}");

    public void ManagedSave(DomainRef domain, uint flags)
    {
        Stop(domain, $"managedsave {domain.Name} {flags}", 5);
        Find(domain.Uuid).ManagedSave = true;
    }

    public bool HasManagedSave(DomainRef domain) => Find(domain.Uuid).ManagedSave;
    public void RemoveManagedSave(DomainRef domain) => Find(domain.Uuid).ManagedSave = false;

    public SnapshotRef CreateSnapshot(DomainRef domain, string xml, uint flags)
    {
        var d = Find(domain.Uuid);
        string name = XElement.Parse(xml).Element("name")?.Value ?? $"snap{d.Snapshots.Count + 1}";
        d.Snapshots.Add(name);
        d.CurrentSnapshot = name;
        Calls.Enqueue($"snapshot {d.Name} {name}");
        return new SnapshotRef(name, Ref(d));
    }

    public IReadOnlyList<SnapshotRef> ListSnapshots(DomainRef domain, uint flags)
    {
        var d = Find(domain.Uuid);
        return [.. d.Snapshots.Select(s => new SnapshotRef(s, Ref(d)))];
    }

    public SnapshotRef LookupSnapshot(DomainRef domain, string name)
    {
        var d = Find(domain.Uuid);
        return d.Snapshots.Contains(name) ? new SnapshotRef(name, Ref(d))
            : throw new ManagerException(ManagerError.NoDomainSnapshot, $"Domain snapshot not found: no domain snapshot with matching name '{name}'");
    }

    public string GetSnapshotXml(SnapshotRef snapshot, uint flags) =>
        $"<domainsnapshot><name>{LookupSnapshot(snapshot.Domain, snapshot.Name).Name}</name><state>running</state><creationTime>1700000000</creationTime></domainsnapshot>";

    public SnapshotRef? CurrentSnapshot(DomainRef domain)
    {
        var d = Find(domain.Uuid);
        return d.CurrentSnapshot is { } s ? new SnapshotRef(s, Ref(d)) : null;
    }

    public SnapshotRef? SnapshotParent(SnapshotRef snapshot)
    {
        var d = Find(snapshot.Domain.Uuid);
        int i = d.Snapshots.IndexOf(snapshot.Name);
        return i > 0 ? new SnapshotRef(d.Snapshots[i - 1], Ref(d)) : null;
    }

    public void RevertToSnapshot(SnapshotRef snapshot, uint flags) => Calls.Enqueue($"revert {snapshot.Domain.Name} {LookupSnapshot(snapshot.Domain, snapshot.Name).Name}");

    public void DeleteSnapshot(SnapshotRef snapshot, uint flags)
    {
        var d = Find(snapshot.Domain.Uuid);
        if (!d.Snapshots.Remove(snapshot.Name)) throw new ManagerException(ManagerError.NoDomainSnapshot, $"no snapshot '{snapshot.Name}'");
        if (d.CurrentSnapshot == snapshot.Name) d.CurrentSnapshot = d.Snapshots.LastOrDefault();
        Calls.Enqueue($"delete-snapshot {d.Name} {snapshot.Name}");
    }

    public IConsoleSession OpenConsole(DomainRef domain, string? device, uint flags, IConsoleSink sink)
    {
        var d = Running(domain);
        var console = new FakeConsole(sink);
        Console = console;
        Calls.Enqueue($"console {d.Name}");
        sink.Output("login: "u8);   // at once, as a guest prompt would: it must follow the reply
        return console;
    }

    public IDisposable SubscribeLifecycle(Action<DomainLifecycleEvent> handler)
    {
        lock (_gate) _handlers.Add(handler);
        return new Subscription(() => { lock (_gate) _handlers.Remove(handler); });
    }

    private void Stop(DomainRef domain, string call, int lifecycleEvent)
    {
        var d = Running(domain);
        d.Id = -1;
        d.State = DomainState.Shutoff;
        Calls.Enqueue(call);
        Raise(d, lifecycleEvent, 0);
    }

    private Domain Running(DomainRef domain)
    {
        var d = Find(domain.Uuid);
        return d.Id >= 0 ? d : throw new ManagerException(ManagerError.OperationInvalid, "Requested operation is not valid: domain is not running");
    }

    private void Raise(Domain d, int lifecycleEvent, int detail)
    {
        List<Action<DomainLifecycleEvent>> handlers;
        lock (_gate) handlers = [.. _handlers];
        foreach (var h in handlers) h(new DomainLifecycleEvent(Ref(d), lifecycleEvent, detail));
    }

    private Domain Find(Guid uuid)
    {
        lock (_gate) return _domains.GetValueOrDefault(uuid) ?? throw NoDomain($"no domain with matching uuid '{uuid}'");
    }

    private static DomainRef Ref(Domain d) => new(d.Name, d.Uuid, d.Id);

    private static ManagerException NoDomain(string message) => new(ManagerError.NoDomain, $"Domain not found: {message}");

    private sealed class Subscription(Action dispose) : IDisposable
    {
        public void Dispose() => dispose();
    }
}

/// <summary>A console session of the double: what the client types is kept; the test writes the guest's side.</summary>
internal sealed class FakeConsole(IConsoleSink sink) : IConsoleSession
{
    private readonly Lock _gate = new();
    private readonly List<byte> _input = [];

    public IConsoleSink Sink { get; } = sink;
    public bool Disposed { get; private set; }

    public string Input
    {
        get { lock (_gate) return System.Text.Encoding.ASCII.GetString([.. _input]); }
    }

    void IConsoleSession.Input(ReadOnlySpan<byte> bytes)
    {
        lock (_gate) _input.AddRange(bytes);
    }

    public void Dispose() => Disposed = true;
}
