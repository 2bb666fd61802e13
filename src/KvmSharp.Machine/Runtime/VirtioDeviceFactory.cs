using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Balloon;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Console;
using KvmSharp.Devices.Virtio.Entropy;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Console;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// Turns the virtio parts of a <see cref="MachineConfig"/> into devices, in PCI slot order: disks (the
/// first is /dev/vda), NICs, entropy, balloon, vsock, console. Each entry opens its host resources only
/// when created, so a failure leaves nothing open behind it.
/// </summary>
internal static class VirtioDeviceFactory
{
    /// <param name="consoleBackend">The host end of the virtio console, when the config asks for one.</param>
    public static IEnumerable<(string Kind, Func<IVirtioDevice> Create)> FromConfig(MachineConfig config, ConsoleBackend? consoleBackend, Action<string> notice)
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
        if (config.Rng)
            yield return ("virtio-rng", () => new VirtioEntropyDevice(notice));
        if (config.Balloon)
            yield return ("virtio-balloon", () => new VirtioBalloonDevice(notice));
        if (config.Vsock is { } vsock)
            yield return ("virtio-vsock", () => new VirtioVsockDevice(vsock.GuestCid, vsock.UdsPath, notice));
        if (consoleBackend is not null)
            yield return ("virtio-console", () =>
            {
                var device = new VirtioConsoleDevice(consoleBackend, notice);
                consoleBackend.Connect(device);
                return device;
            });
    }
}
