using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// What a daemon killed mid-write leaves in the state directory and a restart removes: undefined domains' directories
/// still in the trash, <see cref="State.AtomicFile"/>'s temporary files (NAME.tmp-PID) of a writer that is gone, and
/// the empty directory of a define that wrote nothing yet.
/// None was ever visible as state: the rename that publishes a file or removes a domain had not happened.
/// </summary>
internal static class StateLeftovers
{
    public static void Remove(StateDirectory state, ILogger logger)
    {
        if (Directory.Exists(state.TrashRoot))
        {
            foreach (var gone in Directory.EnumerateDirectories(state.TrashRoot))
            {
                try { Directory.Delete(gone, recursive: true); }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException) { logger.LogWarning("cannot empty {Trash}: {Message}", gone, e.Message); }
            }
        }
        foreach (var domain in Directory.EnumerateDirectories(state.DomainsRoot))
            foreach (var temp in Directory.EnumerateFiles(domain, "*.tmp-*"))
            {
                string pid = temp[(temp.LastIndexOf(".tmp-", StringComparison.Ordinal) + 5)..];
                if (int.TryParse(pid, System.Globalization.CultureInfo.InvariantCulture, out int writer) && !Directory.Exists($"/proc/{writer}"))
                {
                    logger.LogInformation("removing {File}, a write its process did not finish", temp);
                    File.Delete(temp);
                }
            }
        // A define killed before its domain.xml was renamed into place leaves the directory it made: empty now.
        foreach (var domain in Directory.EnumerateDirectories(state.DomainsRoot))
            if (!Directory.EnumerateFileSystemEntries(domain).Any()) Directory.Delete(domain);
    }
}
