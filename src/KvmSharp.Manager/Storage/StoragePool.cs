using System.Text;
using KvmSharp.State;

namespace KvmSharp.Manager.Storage;

/// <summary>
/// One dir pool as the daemon keeps it: its definition, marks for autostart and for "active" (so a restarted daemon
/// starts it again) and the formats of its volumes, all in its own directory under the state directory; and while
/// active, the names of its volumes as the last refresh (or our own creates and deletes) left them.
/// </summary>
internal sealed class StoragePool
{
    private readonly SortedSet<string> _volumes = new(StringComparer.Ordinal);

    public StoragePool(PoolDefinition definition, string stateDirectory)
    {
        Definition = definition;
        StateDirectory = stateDirectory;
        Formats = new VolumeFormatBook(Path.Combine(stateDirectory, "volumes"));
    }

    public PoolDefinition Definition { get; set; }
    public string StateDirectory { get; }
    public VolumeFormatBook Formats { get; }
    public bool Active { get; private set; }
    public string Name => Definition.Name;
    public PoolRef Ref => Definition.Ref;

    private string DefinitionFile => Path.Combine(StateDirectory, "pool.xml");
    private string AutostartMark => Path.Combine(StateDirectory, "autostart");
    private string ActiveMark => Path.Combine(StateDirectory, "active");

    public bool Autostart
    {
        get => File.Exists(AutostartMark);
        set
        {
            if (value) AtomicFile.WriteAllBytes(AutostartMark, []);
            else File.Delete(AutostartMark);
        }
    }

    /// <summary>Whether the daemon had it running when it last stopped.</summary>
    public bool WasActive => File.Exists(ActiveMark);

    public IReadOnlyCollection<string> Volumes => _volumes;

    public void SaveDefinition()
    {
        Directory.CreateDirectory(StateDirectory);
        AtomicFile.WriteAllBytes(DefinitionFile, Encoding.UTF8.GetBytes(PoolXml.Format(Definition, null)));
    }

    public void Activate()
    {
        Refresh();
        Active = true;
        AtomicFile.WriteAllBytes(ActiveMark, []);
    }

    public void Deactivate()
    {
        Active = false;
        _volumes.Clear();
        File.Delete(ActiveMark);
    }

    public string VolumePath(string name) => Path.Combine(Definition.TargetPath, name);

    /// <summary>
    /// Reads the directory again: its regular files with valid names are the volumes (symlinks, directories, sockets
    /// and hidden files are not). A file seen for the first time has its format probed, once (<see cref="VolumeFormatBook"/>).
    /// </summary>
    public void Refresh()
    {
        string target = Definition.TargetPath;
        var status = KvmSharp.Native.Libc.FileStatus.Of(target);
        if (status is not { IsDirectory: true } && !(status is { IsSymlink: true } && Directory.Exists(target)))
            throw new Domains.ManagerException(Domains.ManagerError.OperationFailed,
                $"cannot open directory '{target}': {(status is null ? "No such file or directory" : "Not a directory")}");
        var found = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string entry in Directory.EnumerateFileSystemEntries(target))
        {
            string name = Path.GetFileName(entry);
            if (StorageNames.Problem(name) is not null) continue;
            if (KvmSharp.Native.Libc.FileStatus.Of(entry) is not { IsRegularFile: true }) continue;
            found.Add(name);
            if (Formats.Find(name) is null) Formats.Set(name, Probe(entry));
        }
        foreach (string gone in Formats.Names.Where(n => !found.Contains(n)).ToList()) Formats.Remove(gone);
        _volumes.Clear();
        _volumes.UnionWith(found);
    }

    public void Added(string name, VolumeFormat format)
    {
        Formats.Set(name, format);
        _volumes.Add(name);
    }

    public void Removed(string name)
    {
        Formats.Remove(name);
        _volumes.Remove(name);
    }

    /// <summary>The first probe of a file found in the pool; unreadable files count as raw.</summary>
    private static VolumeFormat Probe(string path)
    {
        try
        {
            using var file = VolumeFile.OpenRead(path);
            Span<byte> magic = stackalloc byte[4];
            return RandomAccess.Read(file, magic, 0) == 4 && System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(magic) == 0x514649FB
                ? VolumeFormat.Qcow2 : VolumeFormat.Raw;
        }
        catch (Domains.ManagerException)
        {
            return VolumeFormat.Raw;
        }
    }

    public void DeleteState() => Directory.Delete(StateDirectory, recursive: true);

    public static StoragePool? Load(string directory, Action<string> problem)
    {
        string file = Path.Combine(directory, "pool.xml");
        if (!File.Exists(file)) return null;
        try
        {
            var definition = PoolXml.Parse(File.ReadAllText(file));
            if (definition.Name != Path.GetFileName(directory)) throw new Domains.ManagerException(Domains.ManagerError.XmlError, $"it names the pool '{definition.Name}'");
            return new StoragePool(definition, directory);
        }
        catch (Exception e) when (e is Domains.ManagerException or IOException)
        {
            problem($"ignoring the pool definition {file}: {e.Message}");
            return null;
        }
    }
}
