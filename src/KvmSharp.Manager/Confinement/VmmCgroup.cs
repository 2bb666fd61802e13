using System.Globalization;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;

namespace KvmSharp.Manager.Confinement;

/// <summary>
/// One VM's cgroup: <c>kvmsharp.slice/NAME-UUID</c> at the top of each hierarchy (libvirt's machine.slice, beside the
/// daemon's own cgroup rather than under it: cgroup v2 lets a cgroup with processes of its own, the daemon's, hand no
/// controllers to children). The name holds the UUID so that two daemons with a domain of the same name (tests
/// do) never share one, and needs no record: a restarted daemon finds it from the definition. The VMM is placed in
/// it before it execs (the launch wrapper writes its own pid to <see cref="ProcsFiles"/>), so every thread it
/// starts is in it; it is removed when the VM ends.
/// </summary>
public sealed class VmmCgroup
{
    public const string Slice = "kvmsharp.slice";
    private readonly CgroupHost _host;

    private VmmCgroup(CgroupHost host, IReadOnlyList<string> directories, string relativePath)
    {
        _host = host;
        Directories = directories;
        RelativePath = relativePath;
    }

    /// <summary>The cgroup's directory in each hierarchy (v2: one; v1: memory, cpu and cpuacct, joint ones once).</summary>
    public IReadOnlyList<string> Directories { get; }

    /// <summary>Its path inside each hierarchy, as /proc/PID/cgroup shows it (<c>/kvmsharp.slice/NAME-UUID</c>).</summary>
    public string RelativePath { get; }

    public CgroupVersion Version => _host.Version;

    /// <summary>Where a process is moved into the cgroup (one write of its pid to each).</summary>
    public IReadOnlyList<string> ProcsFiles => [.. Directories.Select(d => Path.Combine(d, "cgroup.procs"))];

    public static VmmCgroup For(CgroupHost host, string domain, Guid uuid)
    {
        string leaf = $"{domain}-{uuid:D}";
        string relative = $"/{Slice}/{leaf}";
        IReadOnlyList<string> directories = host.Version switch
        {
            CgroupVersion.V2 => [Path.Combine(host.UnifiedRoot, Slice, leaf)],
            CgroupVersion.V1 => [.. host.V1Roots.Values.Select(Real).Distinct(StringComparer.Ordinal).Select(r => Path.Combine(r, Slice, leaf))],
            _ => [],
        };
        return new VmmCgroup(host, directories, relative);
    }

    /// <summary>cpu and cpuacct are often one hierarchy mounted as cpu,cpuacct with two symlinks to it.</summary>
    private static string Real(string path) => new DirectoryInfo(path).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? path;

    /// <summary>
    /// Makes the cgroup (a stale one from a run that ended unseen is made again) with the limits of the domain's
    /// &lt;memtune&gt; and &lt;cputune&gt;. A limit the host cannot set is a one-line refusal, never a silent skip.
    /// </summary>
    /// <exception cref="ManagerException">A limit is out of the interface's range or a cgroup file refused it.</exception>
    public void Create(DomainMemoryTune? memory, DomainCpuTune? cpu, int vcpus)
    {
        if (_host.Version == CgroupVersion.None)
        {
            if (memory is not null || cpu is not null)
                throw new ManagerException(ManagerError.ConfigUnsupported,
                    $"unsupported configuration: <memtune> and <cputune> need the memory and cpu cgroup controllers, and this host has {_host}");
            return;
        }
        Remove();
        try
        {
            if (_host.Version == CgroupVersion.V2)
            {
                // cgroup-v2.rst "Top-down constraint": a controller reaches a cgroup only if every parent enables it for its children.
                Write(Path.Combine(_host.UnifiedRoot, "cgroup.subtree_control"), "+memory +cpu");
                Directory.CreateDirectory(Path.Combine(_host.UnifiedRoot, Slice));
                Write(Path.Combine(_host.UnifiedRoot, Slice, "cgroup.subtree_control"), "+memory +cpu");
            }
            foreach (string directory in Directories) Directory.CreateDirectory(directory);
            if (_host.Version == CgroupVersion.V2) ApplyV2(memory, cpu, vcpus);
            else ApplyV1(memory, cpu, vcpus);
        }
        catch (IOException e)
        {
            Remove();
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: cannot set up the VM's cgroup {RelativePath}: {e.Message}");
        }
        catch (UnauthorizedAccessException e)
        {
            Remove();
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: cannot set up the VM's cgroup {RelativePath}: {e.Message}");
        }
        catch (ManagerException)
        {
            Remove();
            throw;
        }
    }

    private void ApplyV2(DomainMemoryTune? memory, DomainCpuTune? cpu, int vcpus)
    {
        string dir = Directories[0];
        if (memory is not null)
        {
            if (memory.HardLimitKib is { } hard) Write(Path.Combine(dir, "memory.max"), Bytes(hard));
            if (memory.SoftLimitKib is { } soft) Write(Path.Combine(dir, "memory.high"), Bytes(soft));
            if (memory.SwapHardLimitKib is { } swap)
            {
                // libvirt's swap_hard_limit is memory plus swap (v1's memsw); v2's memory.swap.max counts swap alone.
                string file = Path.Combine(dir, "memory.swap.max");
                if (!File.Exists(file)) throw Unsupported("swap_hard_limit needs swap accounting (memory.swap.max), which this host's cgroup v2 lacks");
                Write(file, Bytes(swap - Math.Min(swap, memory.HardLimitKib ?? 0)));
            }
        }
        if (cpu is not null)
        {
            if (cpu.Shares is { } shares)
            {
                // libvirt writes shares to cpu.weight as they are under v2, whose range is [1, 10000] (cgroup-v2.rst "Weights").
                if (shares is < 1 or > 10000) throw Unsupported($"Value of cputune 'shares' must be in range [1, 10000] with cgroup v2, not {shares}");
                Write(Path.Combine(dir, "cpu.weight"), shares.ToString(CultureInfo.InvariantCulture));
            }
            if (cpu.PeriodUs is not null || cpu.QuotaUs is not null)
            {
                ulong period = cpu.PeriodUs ?? 100_000;   // the kernel's default period
                string quota = VmQuota(cpu, vcpus) is { } q ? q.ToString(CultureInfo.InvariantCulture) : "max";
                Write(Path.Combine(dir, "cpu.max"), $"{quota} {period.ToString(CultureInfo.InvariantCulture)}");
            }
        }
    }

    private void ApplyV1(DomainMemoryTune? memory, DomainCpuTune? cpu, int vcpus)
    {
        string memoryDir = DirectoryOf("memory"), cpuDir = DirectoryOf("cpu");
        if (memory is not null)
        {
            if (memory.HardLimitKib is { } hard) Write(Path.Combine(memoryDir, "memory.limit_in_bytes"), Bytes(hard));
            if (memory.SoftLimitKib is { } soft) Write(Path.Combine(memoryDir, "memory.soft_limit_in_bytes"), Bytes(soft));
            if (memory.SwapHardLimitKib is { } swap)
            {
                // memsw must stay at least the memory limit, so it is written after it (cgroup-v1/memory.rst §2.4).
                string file = Path.Combine(memoryDir, "memory.memsw.limit_in_bytes");
                if (!File.Exists(file)) throw Unsupported("swap_hard_limit needs swap accounting (memory.memsw.limit_in_bytes), which this host's memory cgroup lacks");
                Write(file, Bytes(swap));
            }
        }
        if (cpu is not null)
        {
            if (cpu.Shares is { } shares)
            {
                if (shares < 2) throw Unsupported($"Value of cputune 'shares' must be in range [2, {DomainCpuTune.MaxShares}] with cgroup v1, not {shares}");
                Write(Path.Combine(cpuDir, "cpu.shares"), shares.ToString(CultureInfo.InvariantCulture));
            }
            // The period first: the kernel checks a quota against the period in force (kernel/sched/core.c tg_set_cfs_bandwidth).
            if (cpu.PeriodUs is { } period) Write(Path.Combine(cpuDir, "cpu.cfs_period_us"), period.ToString(CultureInfo.InvariantCulture));
            if (cpu.QuotaUs is not null)
                Write(Path.Combine(cpuDir, "cpu.cfs_quota_us"), VmQuota(cpu, vcpus) is { } q ? q.ToString(CultureInfo.InvariantCulture) : "-1");
        }
    }

    /// <summary>The whole VM's quota: each vCPU's (libvirt's per-vCPU &lt;quota&gt;) times the vCPUs, at most the kernel's largest; null: none.</summary>
    private static ulong? VmQuota(DomainCpuTune cpu, int vcpus) =>
        cpu.QuotaUs is { } quota && quota > 0 ? Math.Min((ulong)quota * (ulong)Math.Max(1, vcpus), DomainCpuTune.MaxQuotaUs) : null;

    private string DirectoryOf(string controller)
    {
        string root = Real(_host.V1Roots[controller]);
        return Directories.First(d => d.StartsWith(root + "/", StringComparison.Ordinal));
    }

    /// <summary>The CPU time of everything in the cgroup, in ns (v2 cpu.stat usage_usec; v1 cpuacct.usage); null when not known.</summary>
    public ulong? CpuTimeNs()
    {
        try
        {
            if (_host.Version == CgroupVersion.V2)
            {
                var line = File.ReadLines(Path.Combine(Directories[0], "cpu.stat")).FirstOrDefault(l => l.StartsWith("usage_usec ", StringComparison.Ordinal));
                return line is not null && ulong.TryParse(line.AsSpan(11), CultureInfo.InvariantCulture, out ulong usec) ? usec * 1000 : null;
            }
            if (_host.Version == CgroupVersion.V1 && _host.V1Roots.ContainsKey("cpuacct"))
                return ReadNumber(Path.Combine(DirectoryOf("cpuacct"), "cpuacct.usage"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
        return null;
    }

    /// <summary>The memory charged to the cgroup now, in bytes (v2 memory.current; v1 memory.usage_in_bytes); null when not known.</summary>
    public ulong? MemoryBytes()
    {
        try
        {
            return _host.Version switch
            {
                CgroupVersion.V2 => ReadNumber(Path.Combine(Directories[0], "memory.current")),
                CgroupVersion.V1 => ReadNumber(Path.Combine(DirectoryOf("memory"), "memory.usage_in_bytes")),
                _ => null,
            };
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>
    /// Removes the cgroup. A VMM that has just ended may still be listed until its parent reaps it (rmdir says
    /// EBUSY), so this tries for a while; a cgroup still busy after that is left, and the next start of the domain
    /// removes it.
    /// </summary>
    /// <returns>Whether it is gone.</returns>
    public bool Remove()
    {
        bool gone = true;
        foreach (string directory in Directories)
        {
            for (int attempt = 0; Directory.Exists(directory); attempt++)
            {
                try { Directory.Delete(directory); }
                catch (IOException) when (attempt < 100) { Thread.Sleep(20); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    gone = false;
                    break;
                }
            }
        }
        return gone;
    }

    private static ulong? ReadNumber(string file) =>
        ulong.TryParse(File.ReadAllText(file).Trim(), CultureInfo.InvariantCulture, out ulong value) ? value : null;

    private static string Bytes(ulong kib) => (kib * 1024).ToString(CultureInfo.InvariantCulture);

    private static void Write(string file, string value)
    {
        try { File.WriteAllText(file, value); }
        catch (IOException e) { throw new IOException($"writing {value} to {file}: {e.Message}", e); }
    }

    private static ManagerException Unsupported(string message) => new(ManagerError.ConfigUnsupported, "unsupported configuration: " + message);
}
