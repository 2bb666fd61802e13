using KvmSharp.Devices.Virtio.RateLimiting;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>&lt;iotune&gt; on disks and &lt;bandwidth&gt; on interfaces: read into limiters, written back, the rest refused by name.</summary>
public class RateLimitXmlTests
{
    private static string DiskWith(string iotune) => Disk.Replace("</disk>", iotune + "</disk>", StringComparison.Ordinal);

    [Fact]
    public void IoTuneAndBandwidthMapToLimitersAndComeBackInTheXml()
    {
        var d = DomainXmlReader.Parse(Minimal(
            DiskWith("<iotune><total_bytes_sec>4194304</total_bytes_sec><total_iops_sec>250</total_iops_sec></iotune>")
            + Nic("tap0", "<bandwidth><inbound average='1000' burst='512'/><outbound average='128' peak='0'/></bandwidth>")));
        Assert.Equal(new DomainIoTune(4194304, 250), d.Disks[0].IoTune);
        var config = d.ToMachineConfig("/run/c.sock", null);
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(4194304, 1000), new TokenBucketConfig(250, 1000)), config.Disks[0].RateLimiter);
        // libvirt's units: average in KiB/s, burst in KiB; inbound is traffic into the guest (its receive side).
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(1000 * 1024, 1000, 512 * 1024)), config.Nets[0].RxRateLimiter);
        Assert.Equal(new RateLimiterConfig(new TokenBucketConfig(128 * 1024, 1000)), config.Nets[0].TxRateLimiter);

        string xml = DomainXmlWriter.Format(d);
        Assert.Contains("<iotune>", xml);
        Assert.Contains("<total_bytes_sec>4194304</total_bytes_sec>", xml);
        Assert.Contains("<total_iops_sec>250</total_iops_sec>", xml);
        Assert.Contains("<inbound average=\"1000\" burst=\"512\" />", xml);
        Assert.Contains("<outbound average=\"128\" />", xml);
        Assert.Equal(d, DomainXmlReader.Parse(xml));
    }

    [Fact]
    public void ZeroMeansNoLimitAsInLibvirt()
    {
        var d = DomainXmlReader.Parse(Minimal(DiskWith("<iotune><total_bytes_sec>0</total_bytes_sec></iotune>")
            + Nic("tap0", "<bandwidth><inbound average='0'/></bandwidth>")));
        Assert.Null(d.Disks[0].IoTune);
        Assert.Null(d.Interfaces[0].Inbound);
        Assert.DoesNotContain("iotune", DomainXmlWriter.Format(d));
    }

    [Theory]
    [InlineData("<iotune><read_bytes_sec>5</read_bytes_sec></iotune>", "read_bytes_sec", ManagerError.ConfigUnsupported)]
    [InlineData("<iotune><write_iops_sec>5</write_iops_sec></iotune>", "write_iops_sec", ManagerError.ConfigUnsupported)]
    [InlineData("<iotune><total_bytes_sec_max>5</total_bytes_sec_max></iotune>", "total_bytes_sec_max", ManagerError.ConfigUnsupported)]
    [InlineData("<iotune><group_name>g</group_name></iotune>", "group_name", ManagerError.ConfigUnsupported)]
    [InlineData("<iotune><total_bytes_sec>lots</total_bytes_sec></iotune>", "total_bytes_sec", ManagerError.XmlError)]
    [InlineData("<iotune><total_iops_sec>-1</total_iops_sec></iotune>", "total_iops_sec", ManagerError.XmlError)]
    [InlineData("<iotune><total_iops_sec>99999999999999999999</total_iops_sec></iotune>", "total_iops_sec", ManagerError.XmlError)]
    public void UnsupportedOrBadIoTuneIsRefusedByName(string iotune, string mention, ManagerError error)
    {
        Refused(() => DomainXmlReader.Parse(Minimal(DiskWith(iotune))), error, mention);
    }

    [Theory]
    [InlineData("<inbound average='100' peak='200'/>", "peak", ManagerError.ConfigUnsupported)]
    [InlineData("<outbound average='100' floor='10'/>", "floor", ManagerError.ConfigUnsupported)]
    [InlineData("<inbound burst='100'/>", "average", ManagerError.XmlError)]
    [InlineData("<inbound average='fast'/>", "average", ManagerError.XmlError)]
    [InlineData("<inbound average='18014398509481984'/>", "average", ManagerError.XmlError)]
    [InlineData("<sideways average='1'/>", "sideways", ManagerError.ConfigUnsupported)]
    public void UnsupportedOrBadBandwidthIsRefusedByName(string bandwidth, string mention, ManagerError error)
    {
        Refused(() => DomainXmlReader.Parse(Minimal(Nic("tap0", $"<bandwidth>{bandwidth}</bandwidth>"))), error, mention);
    }
}
