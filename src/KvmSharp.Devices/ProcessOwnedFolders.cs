using System.Collections.Concurrent;

namespace KvmSharp.Devices;

/// <summary>
/// Folders a device makes for itself at run time (passt's private socket folder), which the process must still
/// reach to remove them later: the VMM's sandbox (Machine/Sandbox) adds them to its Landlock rules, since their
/// names are only known once made.
/// </summary>
public static class ProcessOwnedFolders
{
    private static readonly ConcurrentDictionary<string, byte> s_folders = new(StringComparer.Ordinal);

    public static void Add(string path) => s_folders[path] = 0;

    public static void Remove(string path) => s_folders.TryRemove(path, out _);

    public static IReadOnlyList<string> Current => [.. s_folders.Keys];
}
