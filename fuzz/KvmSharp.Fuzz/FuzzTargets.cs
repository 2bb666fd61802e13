using KvmSharp.Fuzz.Targets;

namespace KvmSharp.Fuzz;

/// <summary>Every fuzz target, by name. A new parser that takes outside input gets a target here and a corpus folder.</summary>
public static class FuzzTargets
{
    public static IReadOnlyList<FuzzTarget> All { get; } =
    [
        new BzImageTarget(),
        new MultibootTarget(),
        new ElfTarget(),
    ];

    public static FuzzTarget? Find(string name) => All.FirstOrDefault(t => t.Name == name);
}
