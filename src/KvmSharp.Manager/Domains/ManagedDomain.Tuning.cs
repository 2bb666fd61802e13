using KvmSharp.Manager.DomainXml;

namespace KvmSharp.Manager.Domains;

/// <summary>What virsh memtune, schedinfo and domstats report of a domain (libvirt's field names, libdomain's units).</summary>
internal sealed partial class ManagedDomain
{
    /// <summary>virDomainGetStatsTypes: VIR_DOMAIN_STATS_STATE 1, CPU_TOTAL 2, BALLOON 4.</summary>
    public const uint StatsState = 1, StatsCpuTotal = 2, StatsBalloon = 4, StatsSupported = StatsState | StatsCpuTotal | StatsBalloon;

    /// <summary>hard_limit, soft_limit, swap_hard_limit in KiB, libvirt's "unlimited" (2^53 - 1) for one not set.</summary>
    public IReadOnlyList<TypedParameter> MemoryParameters
    {
        get
        {
            RequireDefined();
            var tune = _definition.MemoryTune;
            return
            [
                TypedParameter.ULLong("hard_limit", tune?.HardLimitKib ?? DomainMemoryTune.UnlimitedKib),
                TypedParameter.ULLong("soft_limit", tune?.SoftLimitKib ?? DomainMemoryTune.UnlimitedKib),
                TypedParameter.ULLong("swap_hard_limit", tune?.SwapHardLimitKib ?? DomainMemoryTune.UnlimitedKib),
            ];
        }
    }

    /// <summary>cpu_shares, vcpu_period (µs), vcpu_quota (µs, per vCPU as libvirt's): the definition's, 0 where not set (libvirt's inactive answer).</summary>
    public IReadOnlyList<TypedParameter> SchedulerParameters
    {
        get
        {
            RequireDefined();
            var tune = _definition.CpuTune;
            return
            [
                TypedParameter.ULLong("cpu_shares", tune?.Shares ?? 0),
                TypedParameter.ULLong("vcpu_period", tune?.PeriodUs ?? 0),
                TypedParameter.LLong("vcpu_quota", tune?.QuotaUs ?? 0),
            ];
        }
    }

    /// <summary>The domstats groups asked for in <paramref name="groups"/> (0: all we have), libvirt's fields (docs/manpages/virsh.rst "domstats").</summary>
    public IReadOnlyList<TypedParameter> Stats(uint groups)
    {
        if (groups == 0) groups = StatsSupported;
        var run = _run;
        var definition = _definition;
        var stats = new List<TypedParameter>();
        if ((groups & StatsState) != 0)
        {
            var state = State;
            stats.Add(TypedParameter.Int("state.state", (int)state.State));
            stats.Add(TypedParameter.Int("state.reason", state.Reason));
        }
        if ((groups & StatsCpuTotal) != 0 && run is not null)
            stats.Add(TypedParameter.ULLong("cpu.time", CpuTimeNs(run)));
        if ((groups & StatsBalloon) != 0)
        {
            stats.Add(TypedParameter.ULLong("balloon.current", definition.CurrentMemoryKib));
            stats.Add(TypedParameter.ULLong("balloon.maximum", definition.MemoryKib));
            // The memory the VM's cgroup is charged (the VMM's RSS and page cache): the closest we have to libvirt's balloon.rss.
            if (run is not null && Cgroup.MemoryBytes() is { } bytes) stats.Add(TypedParameter.ULLong("balloon.rss", bytes / 1024));
        }
        return stats;
    }
}
