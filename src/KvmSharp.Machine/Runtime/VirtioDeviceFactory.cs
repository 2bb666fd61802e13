using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.Machine.Config;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// Turns the virtio parts of a <see cref="MachineConfig"/> into devices, in PCI slot order: disks (the
/// first is /dev/vda), NICs, entropy, balloon, vsock, console. Each entry opens its host resources only
/// when created, so a failure leaves nothing open behind it.
/// </summary>
internal static class VirtioDeviceFactory
{
    public static IEnumerable<(string Kind, Func<IVirtioDevice> Create)> FromConfig(MachineConfig config, Action<string> notice)
    {
        for (int i = 0; i < config.Disks.Count; i++)
        {
            var disk = config.Disks[i];
            string name = $"virtio-blk{i}";
            yield return (name, () => VirtioBlockDevice.Open(disk.Path, disk.Format?.ToString().ToLowerInvariant(), disk.ReadOnly, disk.Serial, notice, name));
        }
        for (int i = 0; i < config.Nets.Count; i++)
        {
            var net = config.Nets[i];
            yield return ($"virtio-net{i}", () => VirtioNetDevice.OpenTap(net.Tap, net.Mac, notice));
        }
        if (config.Vsock is { } vsock)
            yield return ("virtio-vsock", () => new VirtioVsockDevice(vsock.GuestCid, vsock.UdsPath, notice));
    }
}
