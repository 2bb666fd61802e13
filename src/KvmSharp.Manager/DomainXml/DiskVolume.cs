using KvmSharp.Machine.Config;
using KvmSharp.Manager.Storage;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// &lt;disk type='volume'&gt;&lt;source pool='P' volume='V'/&gt;: a volume of one of the daemon's pools, resolved to its
/// file and format when the domain starts (libvirt's virDomainDiskTranslateSourcePool). <paramref name="FormatGiven"/>:
/// the disk's &lt;driver type&gt; was written, and wins over the volume's format as in libvirt.
/// </summary>
public sealed record DiskVolume(string Pool, string Volume, bool FormatGiven)
{
    /// <summary>What stands in <see cref="DomainDisk.Source"/> until the disk is resolved: never a path, so nothing opens it.</summary>
    public string Placeholder => $"volume:{Pool}/{Volume}";

    /// <summary>The domain with each volume disk pointing at its file; a missing pool or volume refuses the start with libvirt's error.</summary>
    public static DomainDefinition Resolve(DomainDefinition definition, IVolumeResolver? volumes)
    {
        if (!definition.Disks.Any(d => d.Volume is not null)) return definition;
        if (volumes is null)
            throw new Domains.ManagerException(Domains.ManagerError.NoSupport, "this daemon has no storage pools to take <disk type='volume'> from");
        return definition with
        {
            Disks = [.. definition.Disks.Select(disk =>
            {
                if (disk.Volume is not { } v) return disk;
                var (path, format) = volumes.Resolve(v.Pool, v.Volume);
                return disk with { Source = path, Format = v.FormatGiven ? disk.Format : format == VolumeFormat.Qcow2 ? DiskFormat.Qcow2 : DiskFormat.Raw };
            })],
        };
    }
}
