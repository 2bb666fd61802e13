namespace KvmSharp.Manager.Confinement;

/// <summary>
/// How one VMM is started confined: the cgroup files its pid is written to, whether it gets its own mount namespace
/// and which folders are then covered by an empty tmpfs inside it, and the user it becomes
/// (null: it runs as the daemon does). <see cref="None"/>: as before, plain.
/// </summary>
public sealed record VmmConfinement(VmmUser? User, IReadOnlyList<string> CgroupProcsFiles, bool OwnMountNamespace, IReadOnlyList<string> HiddenFolders)
{
    public static VmmConfinement None { get; } = new(null, [], false, []);

    /// <summary>
    /// Folders a VMM has no business in, hidden from it (an empty tmpfs mounted over each, in its own namespace only)
    /// unless one of its files lies under one: people's homes, the shared temporary folders, other processes' runtime
    /// folders, removable media.
    /// </summary>
    public static readonly IReadOnlyList<string> HideCandidates = ["/home", "/root", "/tmp", "/var/tmp", "/dev/shm", "/run/user", "/mnt", "/media"];

    /// <summary>The candidates that exist and hold none of <paramref name="neededPaths"/>.</summary>
    public static IReadOnlyList<string> FoldersToHide(IEnumerable<string> neededPaths)
    {
        var needed = neededPaths.Select(Path.GetFullPath).ToList();
        return [.. HideCandidates.Where(folder => Directory.Exists(folder) && new DirectoryInfo(folder).LinkTarget is null
            && !needed.Any(p => p == folder || p.StartsWith(folder + "/", StringComparison.Ordinal)))];
    }
}
