namespace KvmSharp.Machine.Images;

/// <summary>
/// Puts kernel modules in an order insmod can load them: every module after the modules it depends on
/// (insmod, unlike modprobe, resolves nothing itself). A depth-first walk from each wanted module in
/// the order given, so the result is the same for the same inputs.
/// </summary>
public static class ModuleLoadOrder
{
    /// <param name="wanted">Module names, in the order the caller prefers.</param>
    /// <param name="dependsOf">A module's direct dependencies; null when there is no such module.</param>
    public static IReadOnlyList<string> Resolve(IEnumerable<string> wanted, Func<string, IReadOnlyList<string>?> dependsOf)
    {
        var order = new List<string>();
        var done = new HashSet<string>(StringComparer.Ordinal);
        var visiting = new Stack<string>();

        void Visit(string name, string? neededBy)
        {
            if (done.Contains(name)) return;
            if (visiting.Contains(name))
                throw new GuestImageException($"kernel modules depend on each other in a cycle: {string.Join(" -> ", visiting.Reverse().Append(name))}");
            var depends = dependsOf(name)
                ?? throw new GuestImageException(neededBy is null ? $"the kernel has no module '{name}'" : $"module '{neededBy}' needs '{name}', which the kernel package does not have");
            visiting.Push(name);
            foreach (var dependency in depends) Visit(dependency, name);
            visiting.Pop();
            done.Add(name);
            order.Add(name);
        }

        foreach (var name in wanted) Visit(name, null);
        return order;
    }
}
