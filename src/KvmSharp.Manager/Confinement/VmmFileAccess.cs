using System.Text.Json;
using System.Text.Json.Serialization;
using KvmSharp.Manager.Domains;
using KvmSharp.Native.Libc;
using KvmSharp.State;
using Microsoft.Extensions.Logging;

namespace KvmSharp.Manager.Confinement;

/// <summary>A file (or folder) the VMM opens: only read (kernel, firmware, a read-only disk) or also written.</summary>
public sealed record VmmFile(string Path, bool Writable);

/// <summary>A file's owner before the daemon handed it to the VMM user.</summary>
public sealed record FileOwnerEntry(string Path, uint Uid, uint Gid);

/// <summary>What a domain's <c>owners.json</c> holds while it runs: the VMM user's uid and the owners to give back.</summary>
public sealed record FileOwnerRecord(uint VmmUid, IReadOnlyList<FileOwnerEntry> Files);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(FileOwnerRecord))]
internal sealed partial class ConfinementJsonContext : JsonSerializerContext;

/// <summary>
/// How an unprivileged VMM reaches its files: as libvirt's DAC security driver does (src/security/security_dac.c),
/// the daemon chowns to the VMM user, at start, every file the VMM writes (disks, the UEFI variable store) and any it
/// reads that the user could not read, writing their owners down first (<c>owners.json</c> in the domain's folder),
/// and gives the owners back when the run ends, by whichever daemon sees the end.
/// Why not open the files in the daemon and pass the fds, the other way libvirt knows: the VMM opens files by path
/// at more places than a start (a guest reset builds the machine again from its config, a qcow2 opens its backing
/// file by a name relative to its own, a restore maps the memory file the save named), and saved machine state
/// holds those paths, so fd numbers would have to stand in for paths everywhere; the paths stay real this way.
/// What chown cannot give is a way through a folder the user may not enter (/root is 0700, .NET's temporary
/// folders are too): for those the daemon adds an ACL entry that lets the VMM user pass through (search, never
/// list or read: <c>setfacl -m u:kvmsharp:x</c>), as virt-manager offers to do for a disk the emulator cannot
/// reach. Those entries stay: a reboot of the guest inside the same run reads the kernel again, and another VM may
/// rely on the same folder.
/// </summary>
public static class VmmFileAccess
{
    private const uint Read = 4, Write = 2, Search = 1;
    private static readonly HashSet<string> Opened = [];

    /// <summary>Hands <paramref name="files"/> to <paramref name="user"/> as described above; missing ones are left to the VMM's own error.</summary>
    /// <exception cref="ManagerException">A chown or setfacl failed (one line).</exception>
    public static void Grant(VmmUser user, IEnumerable<VmmFile> files, string recordPath, ILogger log)
    {
        var wanted = files.GroupBy(f => Path.GetFullPath(f.Path), StringComparer.Ordinal)
            .Select(g => new VmmFile(g.Key, g.Any(f => f.Writable))).ToList();
        var changes = new List<FileOwnerEntry>();
        foreach (var file in wanted)
        {
            if (FileOwnership.Of(file.Path) is not { } owner) continue;
            uint need = file.Writable ? Read | Write : Read;
            if (owner.IsDirectory) need |= Search;
            if (owner.Uid != user.Uid && (file.Writable || !owner.Allows(user.Uid, user.Groups, need)))
                changes.Add(new FileOwnerEntry(file.Path, owner.Uid, owner.Gid));
        }
        // Written before the first chown, so that a daemon killed in the middle still gives every file back.
        if (changes.Count > 0 || File.Exists(recordPath))
            AtomicFile.WriteAllBytes(recordPath, JsonSerializer.SerializeToUtf8Bytes(new FileOwnerRecord(user.Uid, [.. Previous(recordPath), .. changes]),
                ConfinementJsonContext.Default.FileOwnerRecord));
        try
        {
            foreach (var change in changes) FileOwnership.Set(change.Path, user.Uid, user.Gid);
            foreach (var file in wanted) OpenTheWay(user, file.Path, log);
        }
        catch (IOException e)
        {
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: cannot give the VMM user {user.Name} its files: {e.Message}");
        }
    }

    /// <summary>Gives back the owners written in <paramref name="recordPath"/> (files still owned by the VMM user only), then removes it.</summary>
    public static void Restore(string recordPath, ILogger log)
    {
        var record = ReadRecord(recordPath);
        if (record is null) return;
        foreach (var entry in record.Files)
        {
            try
            {
                if (FileOwnership.Of(entry.Path) is { } now && now.Uid == record.VmmUid) FileOwnership.Set(entry.Path, entry.Uid, entry.Gid);
            }
            catch (IOException e)
            {
                log.LogWarning("cannot give {Path} back to {Uid}:{Gid}: {Message}", entry.Path, entry.Uid, entry.Gid, e.Message);
            }
        }
        try { File.Delete(recordPath); }
        catch (IOException) { }
    }

    private static IReadOnlyList<FileOwnerEntry> Previous(string recordPath) => ReadRecord(recordPath)?.Files ?? [];

    private static FileOwnerRecord? ReadRecord(string recordPath)
    {
        try { return File.Exists(recordPath) ? JsonSerializer.Deserialize(File.ReadAllBytes(recordPath), ConfinementJsonContext.Default.FileOwnerRecord) : null; }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>Lets the user search every folder above <paramref name="path"/> that it could not (an ACL entry, see above).</summary>
    private static void OpenTheWay(VmmUser user, string path, ILogger log)
    {
        for (string? folder = Path.GetDirectoryName(path); folder is not null; folder = Path.GetDirectoryName(folder))
        {
            if (FileOwnership.Of(folder) is not { } owner || owner.Allows(user.Uid, user.Groups, Search)) continue;
            if (!SetFacl($"u:{user.Name}:x", folder, out string error))
                throw new IOException($"setfacl -m u:{user.Name}:x {folder}: {error}");
            lock (Opened)
                if (Opened.Add(folder)) log.LogInformation("the VMM user {User} may now pass through {Folder} (ACL u:{User}:x; no listing, no reading)", user.Name, folder, user.Name);
        }
    }

    private static bool SetFacl(string entry, string folder, out string error)
    {
        try
        {
            var (exitCode, _, stderr) = ToolProcess.Run("setfacl", ["-m", entry, "--", folder]);
            error = stderr.Trim();
            return exitCode == 0;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            error = $"cannot run setfacl ({e.Message}); install the acl package";
            return false;
        }
    }
}
