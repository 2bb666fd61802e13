using KvmSharp.Storage;

namespace KvmSharp.Machine.Control;

// Internal snapshots of the machine's qcow2 disks (ours; Firecracker has none): what a full-system snapshot keeps
// of the disks, taken in this process because it has the images open and caches their tables.
public sealed partial class MachineController
{
    /// <summary>
    /// Takes internal snapshot <paramref name="name"/> in every writable qcow2 disk of the paused machine (so they match
    /// its memory); all or none: when one disk refuses, the snapshots already taken are deleted again. Returns the images.
    /// </summary>
    public IReadOnlyList<string> CreateDiskSnapshots(string name)
    {
        lock (_lock)
        {
            RequirePhase("snapshot the disks", MachinePhase.Paused);
            var taken = new List<Qcow2Image>();
            try
            {
                foreach (var image in _machine!.WritableQcow2Disks())
                {
                    image.CreateSnapshot(name);
                    taken.Add(image);
                }
            }
            catch
            {
                foreach (var image in taken) image.DeleteSnapshot(name);
                throw;
            }
            return [.. taken.Select(i => i.Path)];
        }
    }

    /// <summary>Deletes internal snapshot <paramref name="name"/> from every writable qcow2 disk that has it; returns those images.</summary>
    public IReadOnlyList<string> DeleteDiskSnapshots(string name)
    {
        lock (_lock)
        {
            RequirePhase("delete disk snapshots", MachinePhase.Running, MachinePhase.Paused);
            var deleted = new List<string>();
            foreach (var image in _machine!.WritableQcow2Disks())
            {
                if (!image.Snapshots.Any(s => s.Name == name)) continue;
                image.DeleteSnapshot(name);
                deleted.Add(image.Path);
            }
            return deleted;
        }
    }
}
