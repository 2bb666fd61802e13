using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

public class SnapshotXmlTests
{
    private static SnapshotMetadata Sample(SnapshotState state = SnapshotState.Running, string? parent = "base") =>
        new("after-install", "the <first> one", state, parent, 1_764_000_000, DomainXmlWriterTests.Full());

    [Fact]
    public void What_snapshot_create_as_sends_is_read()
    {
        var request = SnapshotXml.ParseRequest("<domainsnapshot><name>s1</name><description>before upgrade</description></domainsnapshot>");
        Assert.Equal(new SnapshotRequest("s1", "before upgrade", SnapshotMemory.Default, []), request);

        request = SnapshotXml.ParseRequest("""
            <domainsnapshot>
              <name>s2</name>
              <memory snapshot='internal'/>
              <disks><disk name='vda' snapshot='internal'/><disk name='vdb'/></disks>
            </domainsnapshot>
            """);
        Assert.Equal(new SnapshotRequest("s2", null, SnapshotMemory.Internal, ["vda", "vdb"]), request);
        Assert.Equal(SnapshotMemory.No, SnapshotXml.ParseRequest("<domainsnapshot><memory snapshot='no'/></domainsnapshot>").Memory);
    }

    [Fact]
    public void A_request_without_a_name_is_named_by_the_unix_time()
    {
        var now = DateTimeOffset.FromUnixTimeSeconds(1_764_680_000);
        Assert.Equal("1764680000", SnapshotXml.ParseRequest("<domainsnapshot/>", now).Name);
        long before = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        long named = long.Parse(SnapshotXml.ParseRequest("<domainsnapshot><description>d</description></domainsnapshot>").Name, System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(named, before, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
    }

    [Theory]
    [InlineData("<memory snapshot='external' file='/var/mem.img'/>", "external memory snapshots")]
    [InlineData("<memory file='/var/mem.img'/>", "external memory snapshots")]
    [InlineData("<disks><disk name='vda' snapshot='external'><source file='/x.qcow2'/></disk></disks>", "external snapshot of disk vda")]
    [InlineData("<disks><disk name='vda' snapshot='no'/></disks>", "leaving disk vda out")]
    [InlineData("<disks><disk name='/img/a.img'/></disks>", "<disk name='/img/a.img'>")]
    [InlineData("<disks><disk name='vda'><driver type='qcow2'/></disk></disks>", "<driver> in <disk>")]
    [InlineData("<disks><other/></disks>", "<other> in <disks>")]
    [InlineData("<state>running</state>", "<state> is not supported")]
    [InlineData("<creationTime>1</creationTime>", "<creationTime> is not supported")]
    [InlineData("<parent><name>p</name></parent>", "<parent> is not supported")]
    [InlineData("<domain type='kvm'><name>x</name></domain>", "<domain> is not supported")]
    [InlineData("<cookie/>", "<cookie> is not supported")]
    public void Requests_we_cannot_honour_are_refused_by_name(string inner, string mention)
    {
        Refused(() => SnapshotXml.ParseRequest($"<domainsnapshot><name>s</name>{inner}</domainsnapshot>"), ManagerError.ConfigUnsupported, mention);
    }

    [Theory]
    [InlineData("<domainsnapshot><name>a/b</name></domainsnapshot>", "'/'")]
    [InlineData("<domainsnapshot><name></name></domainsnapshot>", "is empty")]
    [InlineData("<domainsnapshot><disks><disk name='vda'/><disk name='vda'/></disks></domainsnapshot>", "disk vda is named twice")]
    [InlineData("<domainsnapshot><disks><disk name='vda' snapshot='maybe'/></disks></domainsnapshot>", "snapshot='maybe'")]
    [InlineData("<domain/>", "expected <domainsnapshot>")]
    [InlineData("<!DOCTYPE domainsnapshot><domainsnapshot/>", "<!DOCTYPE>")]
    public void Bad_requests_are_xml_errors(string xml, string mention)
    {
        Refused(() => SnapshotXml.ParseRequest(xml), ManagerError.XmlError, mention);
    }

    [Fact]
    public void The_stored_form_reads_back()
    {
        foreach (var m in (SnapshotMetadata[])[Sample(), Sample(SnapshotState.Shutoff, null), Sample(SnapshotState.Paused) with { Description = null }])
        {
            string xml = SnapshotXml.Format(m);
            Assert.Equal(m, SnapshotXml.ParseMetadata(xml));
            Assert.Equal(xml, SnapshotXml.Format(SnapshotXml.ParseMetadata(xml)));
        }
    }

    [Fact]
    public void The_stored_form_has_what_virsh_snapshot_list_reads()
    {
        string xml = SnapshotXml.Format(Sample());
        Assert.StartsWith("<domainsnapshot>\n  <name>after-install</name>\n  <description>the &lt;first&gt; one</description>\n  <state>running</state>\n"
            + "  <parent>\n    <name>base</name>\n  </parent>\n  <creationTime>1764000000</creationTime>\n  <memory snapshot=\"internal\" />\n"
            + "  <disks>\n    <disk name=\"vda\" snapshot=\"internal\" />\n    <disk name=\"vdb\" snapshot=\"internal\" />\n  </disks>\n  <domain type=\"qemu\">", xml, StringComparison.Ordinal);
        Assert.Contains("<memory snapshot=\"no\" />", SnapshotXml.Format(Sample(SnapshotState.Shutoff)), StringComparison.Ordinal);
    }

    [Fact]
    public void Virt_xml_validate_accepts_the_stored_form()
    {
        Assert.SkipUnless(File.Exists("/usr/bin/virt-xml-validate") && File.Exists("/usr/share/libvirt/schemas/domainsnapshot.rng"),
            "virt-xml-validate or libvirt's schemas are not installed");
        DomainXmlWriterTests.Validate(SnapshotXml.Format(Sample()), "domainsnapshot");
        DomainXmlWriterTests.Validate(SnapshotXml.Format(Sample(SnapshotState.Shutoff, null)), "domainsnapshot");
    }

    [Theory]
    [InlineData("<state>running</state>", "", "<state> is missing")]
    [InlineData("<state>running</state>", "<state>disk-snapshot</state>", "'disk-snapshot'")]
    [InlineData("<creationTime>1764000000</creationTime>", "", "<creationTime> is missing")]
    [InlineData("<creationTime>1764000000</creationTime>", "<creationTime>-5</creationTime>", "<creationTime> must be a whole number")]
    [InlineData("<creationTime>1764000000</creationTime>", "<creationTime>9223372036854775808</creationTime>", "too large")]
    [InlineData("<disk name=\"vdb\" snapshot=\"internal\" />", "<disk name=\"vdz\" snapshot=\"internal\" />", "<disk name='vdz'> in <disks> is not a disk")]
    [InlineData("<name>after-install</name>", "", "<name> is missing")]
    [InlineData("<vcpu placement=\"static\">4</vcpu>", "<vcpu placement=\"static\">0</vcpu>", "<vcpu>: must be between")]
    public void A_damaged_stored_form_is_an_xml_error(string replaced, string by, string mention)
    {
        string xml = SnapshotXml.Format(Sample());
        Assert.Contains(replaced, xml, StringComparison.Ordinal);
        Refused(() => SnapshotXml.ParseMetadata(xml.Replace(replaced, by, StringComparison.Ordinal)), ManagerError.XmlError, mention);
    }
}
