using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>&lt;memtune&gt; and &lt;cputune&gt;: read in KiB and µs, written back as libvirt writes them, bad values refused in libvirt's words.</summary>
public class TuningXmlTests
{
    [Fact]
    public void MemtuneAndCputuneAreReadAndWrittenBack()
    {
        var d = DomainXmlReader.Parse(Minimal(extra: """
            <memtune><hard_limit unit='GiB'>1</hard_limit><soft_limit>524288</soft_limit><swap_hard_limit unit='M'>2048</swap_hard_limit></memtune>
            <cputune><shares>2048</shares><period>50000</period><quota>-1</quota></cputune>
            """));
        Assert.Equal(new DomainMemoryTune(1048576, 524288, 2097152), d.MemoryTune);
        Assert.Equal(new DomainCpuTune(2048, 50000, -1), d.CpuTune);
        string xml = DomainXmlWriter.Format(d);
        Assert.Contains("<hard_limit unit=\"KiB\">1048576</hard_limit>", xml);
        Assert.Contains("<quota>-1</quota>", xml);
        Assert.True(xml.IndexOf("<memtune>", StringComparison.Ordinal) < xml.IndexOf("<vcpu", StringComparison.Ordinal), "libvirt's order: memtune before vcpu");
        Assert.Equal(d, DomainXmlReader.Parse(xml));
    }

    [Fact]
    public void UnlimitedAndZeroMeanNoLimit()
    {
        var d = DomainXmlReader.Parse(Minimal(extra:
            "<memtune><hard_limit>9007199254740991</hard_limit></memtune><cputune><period>0</period><quota>0</quota></cputune>"));
        Assert.Null(d.MemoryTune);
        Assert.Null(d.CpuTune);
        Assert.DoesNotContain("tune", DomainXmlWriter.Format(d));
    }

    [Theory]
    [InlineData("<memtune><hard_limit unit='GiB'>3</hard_limit><swap_hard_limit unit='GiB'>2</swap_hard_limit></memtune>", ManagerError.InvalidArg,
                "memory hard_limit tunable value must be lower than or equal to swap_hard_limit")]
    [InlineData("<memtune><hard_limit>-5</hard_limit></memtune>", ManagerError.XmlError, "must be a whole number")]
    [InlineData("<memtune><hard_limit unit='parsecs'>5</hard_limit></memtune>", ManagerError.XmlError, "is not a size unit")]
    [InlineData("<memtune><min_guarantee>5</min_guarantee></memtune>", ManagerError.ConfigUnsupported, "<min_guarantee>")]
    [InlineData("<cputune><period>999</period></cputune>", ManagerError.ConfigUnsupported, "Value of cputune 'period' must be in range [1000, 1000000]")]
    [InlineData("<cputune><period>1000001</period></cputune>", ManagerError.ConfigUnsupported, "Value of cputune 'period' must be in range")]
    [InlineData("<cputune><quota>999</quota></cputune>", ManagerError.ConfigUnsupported, "Value of cputune 'quota' must be in range [1000, 17592186044415]")]
    [InlineData("<cputune><quota>17592186044416</quota></cputune>", ManagerError.ConfigUnsupported, "Value of cputune 'quota'")]
    [InlineData("<cputune><quota>lots</quota></cputune>", ManagerError.XmlError, "must be a whole number")]
    [InlineData("<cputune><shares>262145</shares></cputune>", ManagerError.ConfigUnsupported, "Value of cputune 'shares' must be in range [2, 262144]")]
    [InlineData("<cputune><vcpupin vcpu='0' cpuset='1'/></cputune>", ManagerError.ConfigUnsupported, "<vcpupin>")]
    public void BadValuesAreRefusedInLibvirtsWords(string tuning, ManagerError error, string words) =>
        Refused(Minimal(extra: tuning), error, words);
}
