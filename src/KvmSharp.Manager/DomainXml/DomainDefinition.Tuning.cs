namespace KvmSharp.Manager.DomainXml;

public sealed partial record DomainDefinition
{
    /// <summary>&lt;memtune&gt;: limits of the VM's cgroup; null when none are set.</summary>
    public DomainMemoryTune? MemoryTune { get; init; }

    /// <summary>&lt;cputune&gt;: shares, period and quota of the VM's cgroup; null when none are set.</summary>
    public DomainCpuTune? CpuTune { get; init; }
}
