using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Storage;

namespace KvmSharp.Machine.Runtime;

public sealed partial class RunningMachine
{
    /// <summary>The writable qcow2 images among the machine's disks: where internal disk snapshots live.</summary>
    internal IReadOnlyList<Qcow2Image> WritableQcow2Disks() =>
        [.. Pci.Devices<VirtioBlockDevice>().Select(d => d.WritableQcow2).OfType<Qcow2Image>()];
}
