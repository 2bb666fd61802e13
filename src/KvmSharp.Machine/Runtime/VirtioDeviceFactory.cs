using KvmSharp.Devices.Virtio;
using KvmSharp.Devices.Virtio.Balloon;
using KvmSharp.Devices.Virtio.Block;
using KvmSharp.Devices.Virtio.Console;
using KvmSharp.Devices.Virtio.Entropy;
using KvmSharp.Devices.Virtio.Fs;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Devices.Virtio.Net.Host;
using KvmSharp.Devices.Virtio.Vsock;
using KvmSharp.Machine.Config;
using KvmSharp.Machine.Console;

namespace KvmSharp.Machine.Runtime;

/// <summary>
/// Turns the virtio parts of a normalized <see cref="MachineConfig"/> into devices, each with the PCI slot its
/// config names, in slot order. Each entry opens its host resources only when created, so a failure leaves nothing
/// open behind it.
/// </summary>
internal static class VirtioDeviceFactory
{
    /// <param name="config">Normalized: every device has its id and slot, every NIC its MAC.</param>
    /// <param name="consoleBackend">The host end of the virtio console, when the config asks for one.</param>
    public static IEnumerable<(string Kind, int Slot, Func<IVirtioDevice> Create)> FromConfig(MachineConfig config, ConsoleBackend? consoleBackend, Action<string> notice)
    {
        var devices = new List<(string, int, Func<IVirtioDevice>)>();
        foreach (var disk in config.Disks)
        {
            string name = $"virtio-blk {disk.Id}";
            devices.Add((name, SlotOf(disk.Slot), () =>
            {
                var device = VirtioBlockDevice.Open(disk.Path, disk.Format?.ToString().ToLowerInvariant(), disk.ReadOnly, disk.Serial, notice, name);
                if (disk.RateLimiter is { } limit) device.LimitRate(limit);
                return device;
            }));
        }
        foreach (var net in config.Nets)
        {
            byte[] mac = MacAddress.TryParse(net.Mac ?? "", out var parsed, out _) ? parsed : throw new MachineConfigException($"NIC {net.Id} has no valid MAC");
            if (net.Backend == NetBackendKind.User)
            {
                // passt is a program of its own; a confined VMM may not start programs (no fork, no execve), so a
                // guest reset cannot bring a user NIC back: say so instead of being killed for the attempt.
                if (Sandbox.VmmSandbox.Applied)
                    throw new MachineConfigException($"NIC {net.Id}'s user networking (passt) cannot start again inside the VMM's sandbox; run with --no-reboot, or --sandbox off");
                var forwards = (net.HostForwards ?? []).Select(f => new PasstPortForward(f.Protocol == ForwardProtocol.Udp, f.HostAddress, f.HostPort, f.GuestPort)).ToArray();
                devices.Add(($"virtio-net {net.Id}", SlotOf(net.Slot), () => Limited(VirtioNetDevice.OpenUser(forwards, mac, $"user-{net.Id}", notice), net)));
            }
            else
                devices.Add(($"virtio-net {net.Id}", SlotOf(net.Slot), () => Limited(VirtioNetDevice.OpenTap(net.Tap, mac, notice), net)));
        }
        if (config.Rng is { } rng)
            devices.Add(($"virtio-rng {rng.Id}", SlotOf(rng.Slot), () => new VirtioEntropyDevice(notice)));
        if (config.Balloon is { } balloon)
            devices.Add(($"virtio-balloon {balloon.Id}", SlotOf(balloon.Slot), () =>
            {
                var device = new VirtioBalloonDevice(notice);
                device.SetTargetPages(balloon.AmountMib * (uint)(1 << 20) / (uint)VirtioBalloonDevice.PageSize);
                return device;
            }));
        if (config.Vsock is { } vsock)
            devices.Add(($"virtio-vsock {vsock.Id}", SlotOf(vsock.Slot), () => new VirtioVsockDevice(vsock.GuestCid, vsock.UdsPath, notice)));
        if (config.VirtioConsole is { } hvc && consoleBackend is not null)
            devices.Add(($"virtio-console {hvc.Id}", SlotOf(hvc.Slot), () =>
            {
                var device = new VirtioConsoleDevice(consoleBackend, notice);
                consoleBackend.Connect(device);
                return device;
            }));
        foreach (var fs in config.Filesystems)
        {
            string name = $"virtio-fs {fs.Id}";
            devices.Add((name, SlotOf(fs.Slot), () => new VirtioFsDevice(fs.Tag, fs.Path, fs.ReadOnly, notice, name)));
        }
        return devices.OrderBy(d => d.Item2);
    }

    /// <summary><paramref name="device"/> with the receive and transmit limits <paramref name="net"/> asks for.</summary>
    private static VirtioNetDevice Limited(VirtioNetDevice device, NetConfig net)
    {
        device.LimitRate(net.RxRateLimiter, net.TxRateLimiter);
        return device;
    }

    private static int SlotOf(int? slot) => slot ?? throw new InvalidOperationException("the config was not normalized: a device has no slot");
}
