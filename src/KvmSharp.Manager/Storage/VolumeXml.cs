using System.Globalization;
using System.Xml.Linq;
using KvmSharp.Manager.DomainXml;

namespace KvmSharp.Manager.Storage;

/// <summary>What a client asks for in &lt;volume&gt; XML (vol-create, vol-create-as, vol-clone): sizes in bytes, the format, a backing file.</summary>
public sealed record VolumeRequest(string Name, ulong Capacity, VolumeFormat? Format, string? BackingPath, VolumeFormat? BackingFormat);

/// <summary>What a volume is, for its XML.</summary>
public sealed record VolumeDescription(string Pool, string Name, string Path, VolumeFormat Format, ulong Capacity, ulong Allocation, ulong Physical,
                                       string? BackingPath, VolumeFormat? BackingFormat);

/// <summary>
/// libvirt's storage volume XML (formatstorage "Storage volume XML") for a file volume. Read as hostile input like the
/// domain XML: unknown elements and attributes are refused by name. &lt;key&gt;, &lt;source&gt;, &lt;allocation&gt;,
/// &lt;physical&gt; and &lt;target&gt;&lt;path&gt; are outputs (a dir pool decides the path: pool directory + name), so
/// they are read and ignored, as libvirt does.
/// </summary>
internal static class VolumeXml
{
    /// <summary>The largest capacity we create: qcow2's limit (qcow2.txt: sizes up to 2^56), used for raw files as well.</summary>
    public const ulong MaxCapacity = 1UL << 56;

    public static VolumeRequest Parse(string xml)
    {
        var root = SafeXml.LoadRoot(xml, "volume");
        var v = new ElementReader(root);
        v.RefuseOtherChildren("name", "key", "source", "capacity", "allocation", "physical", "target", "backingStore");
        XmlValues.OptionalChoice(v, "type", "file");

        var nameElement = v.RequiredChild("name", "give the volume a name");
        string name = nameElement.Text();
        nameElement.Finish();
        if (StorageNames.Problem(name) is { } problem)
            throw DomainXmlError.Xml($"the volume name '{DomainXmlError.Quote(name)}' {problem}");

        if (v.Child("key") is { } key) { key.Text(); key.Finish(); }
        if (v.Child("source") is { } source) source.Finish();
        var capacityElement = v.RequiredChild("capacity", "give the volume's size with <capacity unit='bytes'>N</capacity>");
        ulong capacity = Bytes(capacityElement);
        if (capacity > MaxCapacity)
            throw DomainXmlError.Xml($"<capacity> of {capacity} bytes is larger than the {MaxCapacity} bytes (2^56) a volume may have");
        foreach (string output in (string[])["allocation", "physical"])
            if (v.Child(output) is { } ignored) Bytes(ignored);

        VolumeFormat? format = null;
        if (v.Child("target") is { } target)
        {
            if (target.Child("path") is { } path) { path.Text(); path.Finish(); }
            format = Format(target.Child("format"));
            target.Finish();
        }

        string? backingPath = null;
        VolumeFormat? backingFormat = null;
        if (v.Child("backingStore") is { } backing)
        {
            var path = backing.RequiredChild("path", "name the backing file with <path>");
            backingPath = XmlValues.AbsolutePath(path.TrimmedText(), "<path> in <backingStore>");
            path.Finish();
            backingFormat = Format(backing.Child("format"));
            backing.Finish();
        }
        v.Finish();
        return new VolumeRequest(name, capacity, format, backingPath, backingFormat);
    }

    private static VolumeFormat? Format(ElementReader? e)
    {
        if (e is null) return null;
        string type = XmlValues.Choice(e, "type", null, "raw", "qcow2");
        e.Finish();
        return VolumeFormats.Parse(type);
    }

    /// <summary>A scaled integer in bytes (formatstorage: the unit defaults to bytes).</summary>
    private static ulong Bytes(ElementReader e)
    {
        ulong bytes = XmlValues.ScaledBytes(e, "bytes", upToExbi: true);
        e.Finish();
        return bytes;
    }

    public static string Format(VolumeDescription d)
    {
        var root = new XElement("volume", new XAttribute("type", "file"),
            new XElement("name", d.Name),
            new XElement("key", d.Path),
            new XElement("source"),
            PoolXml.Size("capacity", d.Capacity),
            PoolXml.Size("allocation", d.Allocation),
            PoolXml.Size("physical", d.Physical),
            new XElement("target",
                new XElement("path", d.Path),
                new XElement("format", new XAttribute("type", VolumeFormats.Name(d.Format)))),
            d.BackingPath is null ? null : new XElement("backingStore",
                new XElement("path", d.BackingPath),
                d.BackingFormat is { } f ? new XElement("format", new XAttribute("type", VolumeFormats.Name(f))) : null));
        return root + "\n";
    }

    public static string Number(ulong value) => value.ToString(CultureInfo.InvariantCulture);
}
