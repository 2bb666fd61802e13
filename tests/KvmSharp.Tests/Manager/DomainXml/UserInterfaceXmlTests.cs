using KvmSharp.Machine.Config;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>&lt;interface type='user'&gt;&lt;backend type='passt'/&gt; with libvirt's &lt;portForward&gt;: read, written back, and the machine config it makes.</summary>
public class UserInterfaceXmlTests
{
    private const string UserNic = """
        <interface type='user'>
          <backend type='passt'/>
          <mac address='52:54:00:b4:5b:1e'/>
          <portForward proto='tcp' address='127.0.0.1'><range start='2222' to='22'/><range start='8080'/></portForward>
          <portForward proto='udp'><range start='5353' to='53'/></portForward>
          <model type='virtio'/>
        </interface>
        """;

    [Fact]
    public void AUserInterfaceBecomesAUserNicWithItsForwards()
    {
        var d = DomainXmlReader.Parse(Minimal(UserNic + Nic("tap0")));
        var nic = d.Interfaces[0];
        Assert.Equal(NetBackendKind.User, nic.Backend);
        Assert.Equal("52:54:00:b4:5b:1e", nic.Mac);
        Assert.Equal(
            [new PortForward(ForwardProtocol.Tcp, 2222, 22, "127.0.0.1"), new PortForward(ForwardProtocol.Tcp, 8080, 8080, "127.0.0.1"), new PortForward(ForwardProtocol.Udp, 5353, 53)],
            nic.PortForwards!.Value.ToArray());
        Assert.Equal(NetBackendKind.Tap, d.Interfaces[1].Backend);

        var config = d.ToMachineConfig("/run/console.sock", null);
        Assert.Equal(NetBackendKind.User, config.Nets[0].Backend);
        Assert.Equal(nic.PortForwards, config.Nets[0].HostForwards);
        Assert.Equal("tap0", config.Nets[1].Tap);
        Assert.Empty(config.Validate());
    }

    [Fact]
    public void ItIsWrittenBackAsLibvirtWritesIt()
    {
        var d = DomainXmlReader.Parse(Minimal(UserNic));
        string xml = DomainXmlWriter.Format(d);
        Assert.Contains("<interface type=\"user\">", xml.Replace('\'', '"'));
        Assert.Contains("<backend type=\"passt\" />", xml.Replace('\'', '"'));
        Assert.Contains("<range start=\"2222\" to=\"22\" />", xml.Replace('\'', '"'));
        Assert.Equal(d, DomainXmlReader.Parse(xml));
        Assert.Equal(xml, DomainXmlWriter.Format(DomainXmlReader.Parse(xml)));
        // Without a backend (we have no SLIRP) it is passt all the same, and says so when written.
        var plain = DomainXmlReader.Parse(Minimal("<interface type='user'/>"));
        Assert.Equal(NetBackendKind.User, plain.Interfaces[0].Backend);
        Assert.Contains("passt", DomainXmlWriter.Format(plain));
    }

    [Theory]
    [InlineData("<interface type='user'><backend type='slirp'/></interface>", "slirp")]
    [InlineData("<interface type='user'><portForward proto='tcp'><range start='5000' end='5020' to='6000'/></portForward></interface>", "'end'")]
    [InlineData("<interface type='user'><portForward proto='tcp'><range start='5000' exclude='yes'/></portForward></interface>", "'exclude'")]
    [InlineData("<interface type='user'><portForward proto='tcp' dev='eth0'><range start='5000'/></portForward></interface>", "'dev'")]
    [InlineData("<interface type='user'><portForward proto='sctp'><range start='5000'/></portForward></interface>", "sctp")]
    [InlineData("<interface type='user'><portForward proto='tcp'><range start='0'/></portForward></interface>", "not a port")]
    [InlineData("<interface type='user'><portForward proto='tcp'><range to='22'/></portForward></interface>", "'start'")]
    [InlineData("<interface type='user'><portForward proto='tcp' address='example.org'><range start='1'/></portForward></interface>", "not an IPv4 or IPv6 address")]
    [InlineData("<interface type='user'><source dev='eth0'/></interface>", "<source>")]
    [InlineData("<interface type='user'><portForward proto='tcp'><range start='22'/></portForward><portForward proto='tcp'><range start='22'/></portForward></interface>", "forwarded twice")]
    public void WhatWeCannotDoIsRefusedByName(string nic, string expected)
    {
        var e = Assert.Throws<ManagerException>(() => DomainXmlReader.Parse(Minimal(nic)));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }
}
