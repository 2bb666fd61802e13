using System.Text.RegularExpressions;
using KvmSharp.Devices.Virtio.Net;
using KvmSharp.Machine.Config;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// Fills in what libvirt fills in on define and checks what <see cref="MachineConfig.Validate"/> checks: a UUID
/// when none is given, memory rounded up to whole 4 KiB pages, currentMemory defaulted to memory, disks in target
/// order, MACs (52:54:00:xx:xx:xx at random, as libvirt makes them) and PCI slots (through
/// <see cref="MachineConfig.Normalize"/>, so a device with an address keeps it when one is added). Normalizing a
/// normalized definition changes nothing.
/// </summary>
internal static partial class DomainNormalizer
{
    public static DomainDefinition Normalize(DomainDefinition d)
    {
        ulong memory = PageRounded(d.MemoryKib);
        // libvirt too takes currentMemory 0 or above memory as memory (virDomainDefPostParseMemory).
        ulong current = d.CurrentMemoryKib == 0 ? memory : Math.Min(PageRounded(d.CurrentMemoryKib), memory);
        if (current < memory && d.Balloon is null)
            throw DomainXmlError.Unsupported("<currentMemory> below <memory> needs a balloon to take the difference: add <memballoon model='virtio'/>");

        var disks = d.Disks.ToList();
        var targets = new HashSet<string>(StringComparer.Ordinal);
        foreach (var disk in disks)
            if (!targets.Add(disk.Target))
                throw DomainXmlError.Xml($"target dev='{disk.Target}' is given to two disks");
        // libvirt keeps disks sorted by target (virDomainDiskInsert); with default slots vda is then also the guest's first disk.
        disks = [.. disks.OrderBy(disk => DiskIndex(disk.Target))];

        var normalized = d with
        {
            Uuid = d.Uuid == Guid.Empty ? Guid.NewGuid() : d.Uuid,
            MemoryKib = memory,
            CurrentMemoryKib = current,
            Disks = [.. disks],
            Interfaces = WithMacs(d.Interfaces),
        };

        // A NIC on a virtual network gets its tap at start; a placeholder stands in for it here.
        var config = normalized.WithNetworkTaps(_ => "vnet0").BuildMachineConfig("/console", "/vsock").Normalize();
        if (config.Validate() is { Count: > 0 } problems)
        {
            // A handful is enough to act on; the message stays one readable line.
            const int Shown = 3;
            string text = string.Join("; ", problems.Take(Shown).Select(p => $"{XmlNameOf(p.Field, normalized)}: {p.Describe(f => XmlNameOf(f, normalized))}"));
            throw DomainXmlError.Xml(problems.Count > Shown ? $"{text} (and {problems.Count - Shown} more)" : text);
        }
        return normalized with
        {
            Disks = [.. normalized.Disks.Select((disk, i) => disk with { Slot = config.Disks[i].Slot })],
            Interfaces = [.. normalized.Interfaces.Select((nic, i) => nic with { Mac = config.Nets[i].Mac, Slot = config.Nets[i].Slot })],
            Rng = normalized.Rng is null ? null : normalized.Rng with { Slot = config.Rng!.Slot },
            Balloon = normalized.Balloon is null ? null : normalized.Balloon with { Slot = config.Balloon!.Slot },
            Vsock = normalized.Vsock is null ? null : normalized.Vsock with { Slot = config.Vsock!.Slot },
            Filesystems = [.. normalized.Filesystems.Select((fs, i) => fs with { Slot = config.Filesystems[i].Slot })],
        };
    }

    /// <summary>KiB rounded up to a 4 KiB page; the parser keeps values below 2^54 KiB, so this cannot overflow.</summary>
    private static ulong PageRounded(ulong kib) => kib > ulong.MaxValue - 3 ? kib : (kib + 3) & ~3UL;

    /// <summary>libvirt's disk index (virDiskNameToIndex): vda 0, vdz 25, vdaa 26, as a spreadsheet counts columns.</summary>
    internal static int DiskIndex(string target)
    {
        int index = 0;
        foreach (char c in target.AsSpan(2)) index = index * 26 + (c - 'a' + 1);
        return index - 1;
    }

    /// <summary>NICs with an address each: a random one in QEMU's 52:54:00 prefix, as libvirt gives, unused by the others.</summary>
    private static ValueList<DomainInterface> WithMacs(ValueList<DomainInterface> nics)
    {
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var nic in nics)
            if (nic.Mac is { } mac && MacAddress.TryParse(mac, out var bytes, out _)) used.Add(MacAddress.Format(bytes));
        return [.. nics.Select(nic =>
        {
            if (nic.Mac is not null) return nic;
            string mac;
            do mac = MacAddress.Format([0x52, 0x54, 0x00, .. Random.Shared.GetItems<byte>(Bytes, 3)]);
            while (!used.Add(mac));
            return nic with { Mac = mac };
        })];
    }

    private static readonly byte[] Bytes = [.. Enumerable.Range(0, 256).Select(b => (byte)b)];

    /// <summary>A <see cref="ConfigProblem"/>'s field (JSON path of the machine config) in the words of the XML.</summary>
    private static string XmlNameOf(string field, DomainDefinition d)
    {
        var match = DeviceField().Match(field);
        if (!match.Success) return field;
        string device = match.Groups["device"].Value;
        string part = match.Groups["part"].Value;
        int index = match.Groups["index"].Success ? int.Parse(match.Groups["index"].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
        string owner = device switch
        {
            "disks" when index < d.Disks.Count => $"<disk> {d.Disks[index].Target}",
            "nets" when index < d.Interfaces.Count && d.Interfaces[index].Network is { } network => $"<interface> on network {DomainXmlError.Quote(network)}",
            "nets" when index < d.Interfaces.Count && d.Interfaces[index].Backend == NetBackendKind.User => $"<interface type='user'> {index}",
            "nets" when index < d.Interfaces.Count => $"<interface> on {DomainXmlError.Quote(d.Interfaces[index].Tap)}",
            "nets" => "<interface>",
            "rng" => "<rng>",
            "balloon" => "<memballoon>",
            "vsock" => "<vsock>",
            "filesystems" when index < d.Filesystems.Count => $"<filesystem> {DomainXmlError.Quote(d.Filesystems[index].Target)}",
            _ => "",
        };
        return (device, part) switch
        {
            ("memory_size", _) => "<memory>",
            ("vcpu_count", _) => "<vcpu>",
            ("kernel", "path") => "<kernel>",
            ("kernel", "initrd_path") => "<initrd>",
            ("kernel", _) => "<os>",
            (_, "path") => $"<source file> of {owner}",
            (_, "serial") => $"<serial> of {owner}",
            (_, "tap") => $"<target dev> of {owner}",
            (_, "mac") => $"<mac address> of {owner}",
            (_, "slot") => $"<address slot> of {owner}",
            (_, "boot_index") => $"<boot order> of {owner}",
            (_, "guest_cid") => $"<cid address> of {owner}",
            _ when owner.Length > 0 => owner,
            _ => field,
        };
    }

    [GeneratedRegex(@"^(?<device>[a-z_]+)(\[(?<index>[0-9]{1,4})\])?(\.(?<part>[a-z_]+))?$", RegexOptions.CultureInvariant)]
    private static partial Regex DeviceField();
}
