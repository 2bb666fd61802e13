using KvmSharp.Fuzz.Targets;

namespace KvmSharp.Fuzz;

/// <summary>Every fuzz target, by name. A new parser that takes outside input gets a target here and a corpus folder.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new Qcow2Target(),
        new VirtQueueTarget(),
        new BlockTarget(),
        new NetTarget(),
        new ConsoleTarget(),
        new EntropyTarget(),
        new VsockTarget(),
        new BalloonTarget(),
        new FsTarget(),
        new RpcTarget(),
        new DomainXmlTarget(),
        new SnapshotXmlTarget(),
        new NetworkXmlTarget(),
        new PoolXmlTarget(),
        new VolumeXmlTarget(),
        new ApiTarget(),
        new StateFileTarget(),
        new StateJsonTarget(),
        new MigrationTarget(),
        new BzImageTarget(),
        new MultibootTarget(),
        new ElfTarget(),
        new FwCfgTarget(),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
