namespace KvmSharp.Manager.Confinement;

/// <summary>Which cgroup interface the VMs' limits go through.</summary>
public enum CgroupVersion
{
    None,
    V1,
    V2,
}

/// <summary>
/// Where this host's cgroups are and which interface has the controllers a VM needs (memory and cpu): cgroup v2
/// (Documentation/admin-guide/cgroup-v2.rst) when the unified hierarchy has both, whether mounted at /sys/fs/cgroup
/// (unified mode) or /sys/fs/cgroup/unified (systemd's hybrid mode); else v1 with one hierarchy per controller
/// (memory, cpu, cpuacct for usage: Documentation/admin-guide/cgroup-v1/), as on a hybrid host whose controllers
/// are all still v1; else none.
/// </summary>
public sealed record CgroupHost(CgroupVersion Version, string UnifiedRoot, IReadOnlyDictionary<string, string> V1Roots)
{
    public const string SysFsCgroup = "/sys/fs/cgroup";
    private static readonly string[] V1Controllers = ["memory", "cpu", "cpuacct"];

    public static CgroupHost Detect(string root = SysFsCgroup)
    {
        foreach (string unified in (string[])[root, Path.Combine(root, "unified")])
        {
            string controllers = Path.Combine(unified, "cgroup.controllers");
            if (!File.Exists(controllers)) continue;
            var names = ReadWords(controllers);
            if (names.Contains("memory") && names.Contains("cpu")) return new CgroupHost(CgroupVersion.V2, unified, new Dictionary<string, string>());
        }
        var v1 = new Dictionary<string, string>();
        foreach (string controller in V1Controllers)
        {
            string path = Path.Combine(root, controller);
            if (File.Exists(Path.Combine(path, "cgroup.procs"))) v1[controller] = path;
        }
        return v1.ContainsKey("memory") && v1.ContainsKey("cpu")
            ? new CgroupHost(CgroupVersion.V1, "", v1)
            : new CgroupHost(CgroupVersion.None, "", v1);
    }

    private static HashSet<string> ReadWords(string file)
    {
        try { return [.. File.ReadAllText(file).Split((char[])[' ', '\n'], StringSplitOptions.RemoveEmptyEntries)]; }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return []; }
    }

    /// <summary>How a log line names it.</summary>
    public override string ToString() => Version switch
    {
        CgroupVersion.V2 => $"cgroup v2 at {UnifiedRoot}",
        CgroupVersion.V1 => $"cgroup v1 ({string.Join(", ", V1Roots.Keys)})",
        _ => "no usable cgroups (neither v2 with memory and cpu nor v1 memory and cpu hierarchies)",
    };
}
