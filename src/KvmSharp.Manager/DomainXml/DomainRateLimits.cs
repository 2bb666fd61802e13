using System.Globalization;
using System.Xml.Linq;
using KvmSharp.Devices.Virtio.RateLimiting;

namespace KvmSharp.Manager.DomainXml;

/// <summary>
/// A disk's &lt;iotune&gt; as we support it: libvirt's total_bytes_sec and total_iops_sec (0: no limit). Our limiter
/// counts reads and writes together, so the read_/write_ variants, the _max bursts and group_name are refused by name.
/// </summary>
public sealed record DomainIoTune(ulong TotalBytesSec, ulong TotalIopsSec)
{
    /// <summary>Firecracker's buckets for it: each limit a bucket of one second's worth, refilled over 1000 ms.</summary>
    public RateLimiterConfig? ToRateLimiter()
    {
        var config = new RateLimiterConfig(
            TotalBytesSec == 0 ? null : new TokenBucketConfig(TotalBytesSec, 1000),
            TotalIopsSec == 0 ? null : new TokenBucketConfig(TotalIopsSec, 1000));
        return config.Limits ? config : null;
    }
}

/// <summary>
/// One direction of an interface's &lt;bandwidth&gt; in libvirt's units: <paramref name="AverageKibPerSec"/> (average,
/// KiB/s) and <paramref name="BurstKib"/> (burst, KiB; 0 when not given). The average is a bucket of one second's bytes
/// refilled over 1000 ms; the burst becomes Firecracker's one_time_burst. libvirt's peak and floor have no counterpart
/// in a token bucket and are refused.
/// </summary>
public sealed record DomainBandwidthLimit(ulong AverageKibPerSec, ulong BurstKib = 0)
{
    public RateLimiterConfig ToRateLimiter() =>
        new(new TokenBucketConfig(AverageKibPerSec * 1024, 1000, BurstKib * 1024));
}

/// <summary>Reading and writing &lt;iotune&gt; and &lt;bandwidth&gt;.</summary>
internal static class DomainRateLimitXml
{
    /// <summary>Kept below the limiter's largest bucket once scaled to bytes (KiB values are multiplied by 1024).</summary>
    private const ulong MaxKib = TokenBucketConfig.MaxSize / 1024;

    public static DomainIoTune? ReadIoTune(ElementReader? iotune, string disk)
    {
        if (iotune is null) return null;
        RefuseOthers(iotune, "our disks limit reads and writes together: use total_bytes_sec and total_iops_sec",
            "total_bytes_sec", "total_iops_sec");
        ulong bytes = Value(iotune.Child("total_bytes_sec"), TokenBucketConfig.MaxSize, disk);
        ulong iops = Value(iotune.Child("total_iops_sec"), TokenBucketConfig.MaxSize, disk);
        iotune.Finish();
        return bytes == 0 && iops == 0 ? null : new DomainIoTune(bytes, iops);
    }

    public static (DomainBandwidthLimit? Inbound, DomainBandwidthLimit? Outbound) ReadBandwidth(ElementReader? bandwidth)
    {
        if (bandwidth is null) return (null, null);
        RefuseOthers(bandwidth, "an interface's bandwidth has inbound and outbound only", "inbound", "outbound");
        var inbound = Direction(bandwidth.Child("inbound"));
        var outbound = Direction(bandwidth.Child("outbound"));
        bandwidth.Finish();
        return (inbound, outbound);
    }

    private static DomainBandwidthLimit? Direction(ElementReader? e)
    {
        if (e is null) return null;
        string where = ElementReader.Show(e.Element);
        if (e.Attribute("peak") is { } peak && peak != "0")
            throw DomainXmlError.Unsupported($"peak of {where} is not supported: the rate limiter is a token bucket with an average rate and a burst");
        if (e.Attribute("floor") is not null)
            throw DomainXmlError.Unsupported($"floor of {where} is not supported: it is for interfaces on a network with QoS");
        ulong average = Number(e.RequiredAttribute("average"), $"average of {where}", MaxKib);
        ulong burst = e.Attribute("burst") is { } b ? Number(b, $"burst of {where}", MaxKib) : 0;
        e.Finish();
        return average == 0 ? null : new DomainBandwidthLimit(average, burst);
    }

    private static ulong Value(ElementReader? e, ulong max, string disk)
    {
        if (e is null) return 0;
        ulong value = Number(e.TrimmedText(), $"<{e.Element.Name.LocalName}> of disk {disk}", max);
        e.Finish();
        return value;
    }

    private static ulong Number(string text, string what, ulong max) =>
        XmlValues.ParseUnsigned(text) is { } n && n <= max
            ? n
            : throw DomainXmlError.Xml($"{what} is '{DomainXmlError.Quote(text)}', not a whole number up to {max}");

    /// <summary>Refuses, by name and with <paramref name="why"/>, the first child that is none of <paramref name="known"/>.</summary>
    private static void RefuseOthers(ElementReader e, string why, params string[] known)
    {
        foreach (var child in e.ChildElements)
            if (child.Name.Namespace != XNamespace.None || !known.Contains(child.Name.LocalName))
                throw DomainXmlError.Unsupported($"{ElementReader.DescribeElement(child)} is not supported: {why}");
    }

    public static XElement? WriteIoTune(DomainIoTune? iotune) => iotune is null ? null : new XElement("iotune",
        iotune.TotalBytesSec == 0 ? null : new XElement("total_bytes_sec", Text(iotune.TotalBytesSec)),
        iotune.TotalIopsSec == 0 ? null : new XElement("total_iops_sec", Text(iotune.TotalIopsSec)));

    public static XElement? WriteBandwidth(DomainBandwidthLimit? inbound, DomainBandwidthLimit? outbound) =>
        inbound is null && outbound is null ? null : new XElement("bandwidth", Direction("inbound", inbound), Direction("outbound", outbound));

    private static XElement? Direction(string name, DomainBandwidthLimit? limit) => limit is null ? null : new XElement(name,
        new XAttribute("average", Text(limit.AverageKibPerSec)),
        limit.BurstKib == 0 ? null : new XAttribute("burst", Text(limit.BurstKib)));

    private static string Text(ulong n) => n.ToString(CultureInfo.InvariantCulture);
}
