using KvmSharp.Machine.Config;
using KvmSharp.Manager.DomainXml;
using KvmSharp.Storage;

namespace KvmSharp.Manager.Domains;

/// <summary>
/// What a full-system snapshot keeps of each writable disk. A qcow2 disk keeps its state as an internal snapshot of the
/// same name inside the image, as libvirt's default snapshots of QEMU's qcow2 disks do: the domain's disk stays one
/// file whatever snapshots exist, reverting to any snapshot of the tree and deleting any snapshot are single
/// operations on that file (external overlays need chains merged back on delete and a new overlay per revert), only
/// the clusters written afterwards cost space, and `qemu-img snapshot -l` shows them. A raw disk has no room for
/// snapshots, so it keeps a sparse copy in the snapshot's directory (libvirt refuses internal snapshots of raw disks).
/// While the domain runs its VMM has the images open and takes or deletes the internal snapshots itself (through its
/// API); otherwise this class opens the images.
/// </summary>
internal static class SnapshotDisks
{
    public static bool KeptInside(DomainDisk disk) => !disk.ReadOnly && disk.Format == DiskFormat.Qcow2;

    /// <summary>Internal snapshot <paramref name="name"/> in each qcow2 disk of a domain that is not running; all or none.</summary>
    public static void CreateInside(IEnumerable<DomainDisk> disks, string name)
    {
        var taken = new List<DomainDisk>();
        try
        {
            foreach (var disk in disks.Where(KeptInside))
            {
                OnImage(disk, image => image.CreateSnapshot(name));
                taken.Add(disk);
            }
        }
        catch
        {
            foreach (var disk in taken) OnImage(disk, image => image.DeleteSnapshot(name));
            throw;
        }
    }

    /// <summary>Brings a qcow2 disk of a domain that is not running back to its internal snapshot <paramref name="name"/>.</summary>
    public static void RevertInside(DomainDisk disk, string name) => OnImage(disk, image =>
    {
        if (!image.Snapshots.Any(s => s.Name == name))
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: disk {disk.Target} ('{disk.Source}') has no internal snapshot '{name}' to revert to");
        image.RevertToSnapshot(name);
    });

    /// <summary>Deletes internal snapshot <paramref name="name"/> from each qcow2 disk (of a domain that is not running) that has it.</summary>
    public static void DeleteInside(IEnumerable<DomainDisk> disks, string name)
    {
        foreach (var disk in disks.Where(KeptInside).Where(d => File.Exists(d.Source)))
            OnImage(disk, image =>
            {
                if (image.Snapshots.Any(s => s.Name == name)) image.DeleteSnapshot(name);
            });
    }

    private static void OnImage(DomainDisk disk, Action<Qcow2Image> action)
    {
        try
        {
            using var image = Qcow2Image.Open(disk.Source, readOnly: false);
            action(image);
        }
        catch (IOException e)
        {
            throw new ManagerException(ManagerError.OperationFailed, $"operation failed: disk {disk.Target}: {e.Message}", e);
        }
    }
}
