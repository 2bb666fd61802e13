using System.Globalization;
using System.Xml.Linq;
using KvmSharp.Manager.DomainXml;

namespace KvmSharp.Manager.Storage;

/// <summary>
/// libvirt's storage pool XML (formatstorage "Storage pool XML") for type='dir', read as hostile input through
/// <see cref="SafeXml"/> and <see cref="ElementReader"/>: anything we do not honour is refused by name, never dropped.
/// &lt;capacity&gt;, &lt;allocation&gt; and &lt;available&gt; are outputs and ignored on input, as libvirt ignores them.
/// </summary>
internal static class PoolXml
{
    public static PoolDefinition Parse(string xml)
    {
        var root = SafeXml.LoadRoot(xml, "pool");
        var p = new ElementReader(root);
        p.RefuseOtherChildren("name", "uuid", "capacity", "allocation", "available", "source", "target");
        string type = p.RequiredAttribute("type");
        if (type != "dir")
            throw DomainXmlError.Unsupported($"pool type '{DomainXmlError.Quote(type)}' is not supported (only 'dir')");

        var nameElement = p.RequiredChild("name", "give the pool a name");
        string name = nameElement.Text();
        nameElement.Finish();
        if (StorageNames.Problem(name) is { } problem)
            throw DomainXmlError.Xml($"the pool name '{DomainXmlError.Quote(name)}' {problem}");

        Guid uuid = Guid.Empty;
        if (p.Child("uuid") is { } u)
        {
            string text = u.TrimmedText();
            if (!Guid.TryParse(text, out uuid))
                throw DomainXmlError.Xml($"<uuid> '{DomainXmlError.Quote(text)}' of the pool is not a UUID");
            u.Finish();
        }
        foreach (string output in (string[])["capacity", "allocation", "available"])
            if (p.Child(output) is { } ignored)
            {
                ignored.Attribute("unit");
                ignored.Text();
                ignored.Finish();
            }
        if (p.Child("source") is { } source)
            source.Finish();   // a dir pool has no source; any child is refused by name

        var target = p.RequiredChild("target", "name the pool's directory with <target><path>/dir</path></target>");
        var pathElement = target.RequiredChild("path", "name the pool's directory");
        string path = XmlValues.AbsolutePath(pathElement.TrimmedText(), "<path> in <target>");
        pathElement.Finish();
        int? mode = null;
        long? owner = null, group = null;
        if (target.Child("permissions") is { } permissions)
        {
            if (permissions.Child("mode") is { } m)
            {
                string text = m.TrimmedText();
                mode = text.Length is > 0 and <= 4 && text.All(c => c is >= '0' and <= '7') ? Convert.ToInt32(text, 8)
                    : throw DomainXmlError.Xml($"<mode> '{DomainXmlError.Quote(text)}' in <permissions> is not an octal file mode (0000 to 7777)");
                m.Finish();
            }
            owner = Id(permissions.Child("owner"));
            group = Id(permissions.Child("group"));
            permissions.Finish();
        }
        target.Finish();
        p.Finish();
        // A path is stored as written, less a trailing slash (libvirt's virFileSanitizePath does as much).
        if (path.Length > 1) path = path.TrimEnd('/');
        return new PoolDefinition(name, uuid == Guid.Empty ? Guid.NewGuid() : uuid, path, mode, owner, group);
    }

    /// <summary>A uid or gid: a number, or -1 for "the daemon's own".</summary>
    private static long? Id(ElementReader? e)
    {
        if (e is null) return null;
        string text = e.TrimmedText();
        e.Finish();
        if (text == "-1") return -1;
        return XmlValues.ParseUnsigned(text) is { } id && id <= uint.MaxValue ? (long)id
            : throw DomainXmlError.Xml($"{e.Describe} '{DomainXmlError.Quote(text)}' is not a user or group id");
    }

    /// <summary>The pool's XML as libvirt writes it; sizes only for an active pool (inactive: zeros, as libvirt).</summary>
    public static string Format(PoolDefinition pool, PoolInfo? info)
    {
        var permissions = new XElement("permissions",
            new XElement("mode", "0" + Convert.ToString(pool.Mode ?? PoolDefinition.DefaultMode, 8)),
            pool.Owner is { } o ? new XElement("owner", o.ToString(CultureInfo.InvariantCulture)) : null,
            pool.Group is { } g ? new XElement("group", g.ToString(CultureInfo.InvariantCulture)) : null);
        var root = new XElement("pool", new XAttribute("type", "dir"),
            new XElement("name", pool.Name),
            new XElement("uuid", pool.Uuid.ToString()),
            Size("capacity", info?.Capacity ?? 0),
            Size("allocation", info?.Allocation ?? 0),
            Size("available", info?.Available ?? 0),
            new XElement("source"),
            new XElement("target", new XElement("path", pool.TargetPath), permissions));
        return root + "\n";
    }

    internal static XElement Size(string name, ulong bytes) =>
        new(name, new XAttribute("unit", "bytes"), bytes.ToString(CultureInfo.InvariantCulture));
}
