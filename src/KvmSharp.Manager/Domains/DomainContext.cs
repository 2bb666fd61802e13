using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Domains;

/// <summary>What every domain shares: the state directory, the VMM program, id numbering, events and the log.</summary>
internal sealed class DomainContext(StateDirectory state, string vmmProgram, LifecycleHub events, ILogger logger, INetworkPorts? networks = null)
{
    private int _lastId;

    public StateDirectory State { get; } = state;
    /// <summary>The <c>kvmsharp</c> binary each VMM runs.</summary>
    public string VmmProgram { get; } = vmmProgram;
    public LifecycleHub Events { get; } = events;
    public ILogger Logger { get; } = logger;
    /// <summary>Where NICs on virtual networks get their taps; null: the daemon runs without networks.</summary>
    public INetworkPorts? Networks { get; } = networks;

    /// <summary>The storage pools a &lt;disk type='volume'&gt; is taken from; null: the daemon serves none.</summary>
    public Storage.IVolumeResolver? Volumes { get; init; }

    /// <summary>Whom the VMMs run as (a root daemon's unprivileged user); null: as the daemon itself.</summary>
    public Confinement.VmmUser? VmmUser { get; init; }

    /// <summary>Where each VM's cgroup goes; none: VMs run in the daemon's cgroups and limits are refused.</summary>
    public Confinement.CgroupHost Cgroups { get; init; } = new(Confinement.CgroupVersion.None, "", new Dictionary<string, string>());

    public int NextId() => Interlocked.Increment(ref _lastId);

    /// <summary>After a restart: ids go on above those of the domains found running.</summary>
    public void SeenId(int id)
    {
        int last;
        while ((last = Volatile.Read(ref _lastId)) < id && Interlocked.CompareExchange(ref _lastId, id, last) != last) { }
    }
}
