using KvmSharp.Devices.Virtio.Net;

namespace KvmSharp.Machine.Config;

public sealed partial record MachineConfig
{
    /// <summary>
    /// This config with every device's id, PCI slot and MAC filled in (see <see cref="PciDeviceLayout"/>): the form to
    /// save, print or build. Values given are kept as they are (a wrong one is left for <see cref="Validate"/> to name),
    /// except MACs, which are written in one canonical form. Normalizing twice changes nothing.
    /// </summary>
    public MachineConfig Normalize()
    {
        var entries = PciDeviceLayout.Entries(this);
        var ids = PciDeviceLayout.Ids(entries);
        var slots = PciDeviceLayout.Slots(entries, PciDeviceLayout.ChipsetSlots(this));
        int next = 0;
        var disks = new DiskConfig[Disks.Count];
        for (int i = 0; i < disks.Length; i++, next++) disks[i] = Disks[i] with { Id = ids[next], Slot = slots[next] };
        var nets = new NetConfig[Nets.Count];
        for (int i = 0, user = 0; i < nets.Length; i++, next++)
            nets[i] = Nets[i] with { Id = ids[next], Slot = slots[next], Mac = CanonicalMac(Nets[i], Nets[i].Backend == NetBackendKind.User ? user++ : 0) };
        var rng = Rng is null ? null : Rng with { Id = ids[next], Slot = slots[next++] };
        var balloon = Balloon is null ? null : Balloon with { Id = ids[next], Slot = slots[next++] };
        var vsock = Vsock is null ? null : Vsock with { Id = ids[next], Slot = slots[next++] };
        var console = VirtioConsole is null ? null : VirtioConsole with { Id = ids[next], Slot = slots[next++] };
        var filesystems = new FsConfig[Filesystems.Count];
        for (int i = 0; i < filesystems.Length; i++, next++) filesystems[i] = Filesystems[i] with { Id = ids[next], Slot = slots[next] };
        return this with
        {
            Disks = [.. disks], Nets = [.. nets], Rng = rng, Balloon = balloon, Vsock = vsock, VirtioConsole = console, Filesystems = [.. filesystems],
        };
    }

    /// <summary>
    /// The NIC's address as aa:bb:cc:dd:ee:ff; without one, the stable address made from its tap's name (as always),
    /// or for user networking from its place among the user NICs (<paramref name="userIndex"/>), so two differ.
    /// </summary>
    private static string? CanonicalMac(NetConfig net, int userIndex) => net.Mac switch
    {
        null => MacAddress.Format(MacAddress.FromName(net.Backend == NetBackendKind.User ? $"user{userIndex}" : net.Tap)),
        var text when MacAddress.TryParse(text, out var mac, out _) => MacAddress.Format(mac),
        var wrong => wrong,
    };

    /// <summary>
    /// Adds <paramref name="disk"/>, or replaces the disk with its id; a replacement without a slot keeps the old
    /// one's, and every other device keeps its slot. The result is normalized.
    /// </summary>
    public MachineConfig WithDisk(DiskConfig disk)
    {
        var current = Normalize();
        int i = disk.Id is null ? -1 : current.Disks.FindIndex(d => d.Id == disk.Id);
        var disks = i < 0 ? current.Disks.Add(disk) : current.Disks.SetItem(i, disk with { Slot = disk.Slot ?? current.Disks[i].Slot });
        return (current with { Disks = disks }).Normalize();
    }

    /// <summary>Adds <paramref name="net"/>, or replaces the NIC with its id, as <see cref="WithDisk"/> does.</summary>
    public MachineConfig WithNet(NetConfig net)
    {
        var current = Normalize();
        int i = net.Id is null ? -1 : current.Nets.FindIndex(n => n.Id == net.Id);
        var nets = i < 0 ? current.Nets.Add(net) : current.Nets.SetItem(i, net with { Slot = net.Slot ?? current.Nets[i].Slot });
        return (current with { Nets = nets }).Normalize();
    }

    /// <summary>Sets (or with null removes) the entropy device; one that replaces another keeps its id and slot unless it names its own.</summary>
    public MachineConfig WithRng(RngConfig? rng)
    {
        var current = Normalize();
        return (current with { Rng = rng is null ? null : rng with { Id = rng.Id ?? current.Rng?.Id, Slot = rng.Slot ?? current.Rng?.Slot } }).Normalize();
    }

    /// <summary>Sets (or with null removes) the balloon, keeping id and slot as <see cref="WithRng"/> does.</summary>
    public MachineConfig WithBalloon(BalloonConfig? balloon)
    {
        var current = Normalize();
        return (current with
        {
            Balloon = balloon is null ? null : balloon with { Id = balloon.Id ?? current.Balloon?.Id, Slot = balloon.Slot ?? current.Balloon?.Slot },
        }).Normalize();
    }

    /// <summary>Sets (or with null removes) the vsock device, keeping id and slot as <see cref="WithRng"/> does.</summary>
    public MachineConfig WithVsock(VsockConfig? vsock)
    {
        var current = Normalize();
        return (current with
        {
            Vsock = vsock is null ? null : vsock with { Id = vsock.Id ?? current.Vsock?.Id, Slot = vsock.Slot ?? current.Vsock?.Slot },
        }).Normalize();
    }

    /// <summary>Sets (or with null removes) the virtio console, keeping id and slot as <see cref="WithRng"/> does.</summary>
    public MachineConfig WithVirtioConsole(VirtioConsoleConfig? console)
    {
        var current = Normalize();
        return (current with
        {
            VirtioConsole = console is null ? null
                : console with { Id = console.Id ?? current.VirtioConsole?.Id, Slot = console.Slot ?? current.VirtioConsole?.Slot },
        }).Normalize();
    }
}
