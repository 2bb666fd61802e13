using System.Globalization;
using System.Xml.Linq;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// Snapshot XML (formatsnapshot): the request virsh snapshot-create(-as) sends, and the stored form the daemon keeps
/// and returns. Our snapshots are of the whole machine, memory and every disk, kept internally; a request for anything
/// else (external files, a disk left out, disk-only memory) is refused by name.
/// </summary>
public static class SnapshotXml
{
    /// <summary>
    /// Reads a creation request. A request without a name gets the Unix time of <paramref name="now"/> (default: the
    /// clock), as libvirt names them. The elements only a redefinition carries (state, creationTime, parent, domain)
    /// are refused: redefining snapshots is not supported.
    /// </summary>
    public static SnapshotRequest ParseRequest(string xml, DateTimeOffset? now = null)
    {
        var e = new ElementReader(SafeXml.LoadRoot(xml, "domainsnapshot"));
        string name = e.Child("name") is { } n ? ReadName(n) : (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        string? description = e.Child("description") is { } d ? ReadText(d) : null;
        var memory = e.Child("memory") is { } m ? ReadMemory(m) : SnapshotMemory.Default;
        var disks = e.Child("disks") is { } list ? ReadDisks(list) : [];
        e.Finish();
        return new SnapshotRequest(name, description, memory, [.. disks]);
    }

    /// <summary>The stored form: name, description, state, parent, creationTime, memory, disks and the domain, in libvirt's order.</summary>
    public static string Format(SnapshotMetadata m)
    {
        var root = new XElement("domainsnapshot",
            new XElement("name", m.Name),
            m.Description is null ? null : new XElement("description", m.Description),
            new XElement("state", StateName(m.State)),
            m.Parent is null ? null : new XElement("parent", new XElement("name", m.Parent)),
            new XElement("creationTime", m.CreationTime.ToString(CultureInfo.InvariantCulture)),
            // A snapshot of a shut-off domain has no memory to keep; libvirt says 'no' for those.
            new XElement("memory", new XAttribute("snapshot", m.State == SnapshotState.Shutoff ? "no" : "internal")),
            new XElement("disks", m.Domain.Disks.Select(disk =>
                new XElement("disk", new XAttribute("name", disk.Target), new XAttribute("snapshot", "internal")))),
            DomainXmlWriter.ToElement(m.Domain));
        return DomainXmlWriter.Write(root);
    }

    /// <summary>Reads the stored form back (as <see cref="Format"/> writes it); the domain inside is validated as a definition is.</summary>
    public static SnapshotMetadata ParseMetadata(string xml)
    {
        var e = new ElementReader(SafeXml.LoadRoot(xml, "domainsnapshot"));
        string name = ReadName(e.RequiredChild("name", "a snapshot has a name"));
        string? description = e.Child("description") is { } d ? ReadText(d) : null;
        var stateElement = e.RequiredChild("state", "a stored snapshot records the domain's state");
        string stateText = ReadText(stateElement).Trim();
        var state = stateText switch
        {
            "running" => SnapshotState.Running,
            "paused" => SnapshotState.Paused,
            "shutoff" => SnapshotState.Shutoff,
            _ => throw DomainXmlError.Xml($"<state> '{DomainXmlError.Quote(stateText)}' is not one of running, paused, shutoff"),
        };
        string? parent = null;
        if (e.Child("parent") is { } p)
        {
            parent = ReadName(p.RequiredChild("name", "a parent is named"));
            p.Finish();
        }
        var time = e.RequiredChild("creationTime", "a stored snapshot records when it was taken");
        ulong creation = XmlValues.UnsignedText(time);
        time.Finish();
        if (creation > long.MaxValue) throw DomainXmlError.Xml("<creationTime> is too large");
        if (e.Child("memory") is { } memory) ReadMemory(memory);
        var disks = e.Child("disks") is { } list ? ReadDisks(list) : [];
        var domain = DomainNormalizer.Normalize(DomainXmlReader.Read(e.RequiredChild("domain", "a stored snapshot holds its domain's definition").Element));
        e.Finish();
        foreach (string disk in disks)
            if (!domain.Disks.Any(x => x.Target == disk))
                throw DomainXmlError.Xml($"<disk name='{disk}'> in <disks> is not a disk of the snapshot's domain");
        return new SnapshotMetadata(name, description, state, parent, (long)creation, domain);
    }

    private static string StateName(SnapshotState state) => state switch
    {
        SnapshotState.Running => "running",
        SnapshotState.Paused => "paused",
        _ => "shutoff",
    };

    private static string ReadName(ElementReader e)
    {
        string name = XmlValues.Name(e, "snapshot");
        e.Finish();
        return name;
    }

    private static string ReadText(ElementReader e)
    {
        string text = e.Text();
        e.Finish();
        return text;
    }

    private static SnapshotMemory ReadMemory(ElementReader m)
    {
        string? snapshot = m.Attribute("snapshot");
        if (snapshot == "external" || m.Attribute("file") is not null)
            throw DomainXmlError.Unsupported("external memory snapshots (<memory snapshot='external' file=…>) are not supported: memory is kept with the snapshot");
        var memory = XmlValues.Choice(m, "snapshot", null, "internal", "no") == "internal" ? SnapshotMemory.Internal : SnapshotMemory.No;
        m.Finish();
        return memory;
    }

    private static List<string> ReadDisks(ElementReader list)
    {
        var names = new List<string>();
        foreach (var child in list.ChildElements)
        {
            if (child.Name != XName.Get("disk")) throw DomainXmlError.Unsupported($"{ElementReader.DescribeElement(child)} is not supported");
            var disk = list.Take(child);
            string name = disk.RequiredAttribute("name");
            if (!name.StartsWith("vd", StringComparison.Ordinal) || name.Length is < 3 or > 5 || name.AsSpan(2).ContainsAnyExceptInRange('a', 'z'))
                throw DomainXmlError.Unsupported($"<disk name='{DomainXmlError.Quote(name)}'> in <disks> is not supported: name disks by target (vda, vdb, …)");
            switch (disk.Attribute("snapshot"))
            {
                case null or "internal":
                    break;
                case "no":
                    throw DomainXmlError.Unsupported($"leaving disk {name} out of a snapshot (snapshot='no') is not supported: a snapshot holds every disk");
                case "external":
                    throw DomainXmlError.Unsupported($"an external snapshot of disk {name} is not supported: disks are snapshotted internally");
                case var other:
                    throw DomainXmlError.Xml($"snapshot='{DomainXmlError.Quote(other)}' of disk {name} is not one of internal, no, external");
            }
            disk.Finish();
            if (names.Contains(name)) throw DomainXmlError.Xml($"disk {name} is named twice in <disks>");
            names.Add(name);
        }
        list.Finish();
        return names;
    }
}
