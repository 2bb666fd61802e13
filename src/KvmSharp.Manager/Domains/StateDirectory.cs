namespace KvmSharp.Manager.Domains;

/// <summary>
/// Where the daemon keeps everything (--state-dir): one directory per domain under domains/, holding its
/// definition (domain.xml), an autostart mark, its managed save image, its snapshots, and while it runs the VMM's
/// config, record, log and sockets. Everything a restarted daemon needs is here.
/// </summary>
public sealed class StateDirectory(string root)
{
    public string Root { get; } = Path.GetFullPath(root);

    public string DomainsRoot => Path.Combine(Root, "domains");

    public DomainPaths For(string domainName) => new(Path.Combine(DomainsRoot, domainName));

    /// <summary>Where an undefined domain's directory is moved (one rename) before it is deleted, so a kill during the
    /// delete leaves no half-deleted domain for a later define of the same name; emptied at every start.</summary>
    public string TrashRoot => Path.Combine(Root, "trash");

    /// <summary>UEFI variable stores, outside the domains' directories as libvirt keeps them (qemu/nvram), so that
    /// undefine can keep one (--keep-nvram).</summary>
    public string NvramRoot => Path.Combine(Root, "nvram");

    /// <summary>The store a UEFI domain gets when its &lt;nvram&gt; names none: &lt;name&gt;_VARS.fd, libvirt's name.</summary>
    public string DefaultNvram(string domainName) => Path.Combine(NvramRoot, $"{domainName}_VARS.fd");
}

/// <summary>The files of one domain, in its own directory.</summary>
public sealed record DomainPaths(string Directory)
{
    public string Definition => Path.Combine(Directory, "domain.xml");
    public string Autostart => Path.Combine(Directory, "autostart");
    public string MachineConfig => Path.Combine(Directory, "machine.json");
    public string VmmRecord => Path.Combine(Directory, "vmm.json");
    public string VmmLog => Path.Combine(Directory, "vmm.log");
    /// <summary>
    /// The one folder the VMM may write in (its sockets, a snapshot on its way out): owned by the VMM user when it is
    /// not the daemon's, so an unprivileged VMM can touch nothing else in the domain's folder (its definition above all).
    /// </summary>
    public string RunDirectory => Path.Combine(Directory, "run");
    public string ApiSocket => Path.Combine(RunDirectory, "api.sock");
    public string ConsoleSocket => Path.Combine(RunDirectory, "console.sock");
    public string VsockSocket => Path.Combine(RunDirectory, "vsock.sock");
    /// <summary>The owners of the files handed to the VMM user for the run (<see cref="Confinement.VmmFileAccess"/>).</summary>
    public string FileOwners => Path.Combine(Directory, "owners.json");
    /// <summary>The state a run is restored from (copied out of a save image).</summary>
    public string RestoreState => Path.Combine(Directory, "restore.state");
    public string ManagedSave => Path.Combine(Directory, "managed.save");
    public string Snapshots => Path.Combine(Directory, "snapshots");
    public string CurrentSnapshot => Path.Combine(Snapshots, "current");
    public string Snapshot(string name) => Path.Combine(Snapshots, name);
}
