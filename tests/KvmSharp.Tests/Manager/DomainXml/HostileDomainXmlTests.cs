using System.Text;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>Documents from a client are hostile: each of these is an XmlError, quickly, never a crash or a file read.</summary>
public class HostileDomainXmlTests
{
    [Fact]
    public void A_dtd_is_refused_so_entities_never_expand()
    {
        const string laughs = """
            <?xml version="1.0"?>
            <!DOCTYPE domain [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>
            <domain type='kvm'><name>&c;</name></domain>
            """;
        Refused(laughs, ManagerError.XmlError, "<!DOCTYPE>");
    }

    [Fact]
    public void An_external_entity_is_never_resolved()
    {
        string xml = "<!DOCTYPE domain [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" + Minimal().Replace("<name>small</name>", "<name>&x;</name>", StringComparison.Ordinal);
        var e = Refused(xml, ManagerError.XmlError, "<!DOCTYPE>");
        Assert.DoesNotContain("root:", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_undeclared_entity_is_malformed()
    {
        Refused(Minimal().Replace("<name>small</name>", "<name>&x;</name>", StringComparison.Ordinal), ManagerError.XmlError, "malformed");
    }

    [Fact]
    public void Ten_megabytes_are_refused_before_parsing()
    {
        var big = new StringBuilder(Minimal().Replace("</name>", "</name><description>", StringComparison.Ordinal));
        big.Replace("<memory", "</description><memory");
        big.Insert(big.ToString().IndexOf("</description>", StringComparison.Ordinal), new string('x', 10 << 20));
        Refused(big.ToString(), ManagerError.XmlError, "characters long", "at most 1048576");
    }

    [Fact]
    public void Deep_nesting_is_refused()
    {
        string deep = string.Concat(Enumerable.Repeat("<a>", 100_000)) + string.Concat(Enumerable.Repeat("</a>", 100_000));
        Refused(Minimal(extra: deep), ManagerError.XmlError, "nested more than");
    }

    [Theory]
    [InlineData("this is <not xml")]
    [InlineData("")]
    [InlineData("<domain type='kvm'><name>x</name>")]
    [InlineData("<domain type='kvm'><name>x</name></domain><domain/>")]
    [InlineData("<domain type='kvm' type='qemu'><name>x</name></domain>")]
    [InlineData("<domain type='kvm'><name>\u0001</name></domain>")]
    [InlineData("<domain type='kvm'><name>&#1;</name></domain>")]
    public void Malformed_documents_are_xml_errors(string xml)
    {
        Refused(xml, ManagerError.XmlError, "XML error: ");
    }

    [Theory]
    [InlineData("<domainsnapshot/>", "the root element is <domainsnapshot>, expected <domain>")]
    [InlineData("<d:domain xmlns:d='urn:x' type='kvm'/>", "the root element is <d:domain>")]
    [InlineData("<domain><name>x</name></domain>", "<domain> needs the attribute 'type'")]
    public void The_root_must_be_a_domain(string xml, string mention)
    {
        Refused(xml, ManagerError.XmlError, mention);
    }

    [Theory]
    [InlineData("<vcpu>2.5</vcpu>")]
    [InlineData("<vcpu>+2</vcpu>")]
    [InlineData("<vcpu>0x2</vcpu>")]
    [InlineData("<vcpu>99999999999999999999</vcpu>")]
    [InlineData("<vcpu></vcpu>")]
    [InlineData("<vcpu><count>2</count></vcpu>")]
    public void Wrong_types_name_the_element(string vcpu)
    {
        var e = Assert.Throws<ManagerException>(() => DomainXmlReader.Parse(Minimal(extra: vcpu)));
        Assert.Contains("<vcpu>", e.Message, StringComparison.Ordinal);
        Assert.Contains(e.Error, (ManagerError[])[ManagerError.XmlError, ManagerError.ConfigUnsupported]);
    }

    [Fact]
    public void Values_quoted_in_messages_are_cut_and_kept_on_one_line()
    {
        string name = new('n', 300);
        var e = Refused(Minimal().Replace("<name>small</name>", $"<name>{name}</name>", StringComparison.Ordinal), ManagerError.XmlError, "longer than 200");
        Assert.True(e.Message.Length < 200, e.Message);
        Refused(Minimal(extra: "<on_crash>a\nb</on_crash>"), ManagerError.ConfigUnsupported, "'a?b'");
    }
}
