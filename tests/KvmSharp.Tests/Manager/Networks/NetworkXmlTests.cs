using System.Net;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using KvmSharp.Manager.Networks;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.Networks;

/// <summary>libvirt's network XML read, normalized, written back and read again; everything we do not honour refused by name.</summary>
public class NetworkXmlTests
{
    /// <summary>libvirt's own default network (its networks/default.xml): no UUID, no MAC, a netmask.</summary>
    private const string LibvirtDefault = """
        <network>
          <name>default</name>
          <bridge name='virbr0'/>
          <forward/>
          <ip address='192.168.122.1' netmask='255.255.255.0'>
            <dhcp>
              <range start='192.168.122.2' end='192.168.122.254'/>
            </dhcp>
          </ip>
        </network>
        """;

    [Fact]
    public void LibvirtsDefaultNetworkReadsAsNatWithDhcpAndGetsAUuidAndMac()
    {
        var n = NetworkXmlReader.Parse(LibvirtDefault);

        Assert.Equal("default", n.Name);
        Assert.Equal(ForwardMode.Nat, n.Forward);
        Assert.Equal("virbr0", n.Bridge);
        Assert.True(n.Stp);
        Assert.NotEqual(Guid.Empty, n.Uuid);
        Assert.Matches("^52:54:00(:[0-9a-f]{2}){3}$", n.Mac!);
        Assert.Equal(IPAddress.Parse("192.168.122.1"), n.Ip!.Address);
        Assert.Equal(24, n.Ip.Prefix);
        Assert.Equal(new DhcpRange(IPAddress.Parse("192.168.122.2"), IPAddress.Parse("192.168.122.254")), n.Ip.Range);
    }

    [Theory]
    [InlineData(LibvirtDefault)]
    [InlineData("""
        <network>
          <name>iso</name><uuid>8d3a7c9e-2b1f-4e6a-9c0d-112233445566</uuid>
          <bridge name='kvbr1' stp='off' delay='2'/><mac address='52:54:00:01:02:03'/>
          <ip address='10.7.0.1' prefix='16'>
            <dhcp><host mac='52:54:00:aa:bb:cc' name='web' ip='10.7.3.4'/><host name='db' ip='10.7.3.5'/></dhcp>
          </ip>
        </network>
        """)]
    [InlineData("<network><name>bare</name></network>")]
    public void WrittenXmlReadsBackToTheSameDefinition(string xml)
    {
        var first = NetworkXmlReader.Parse(xml);
        string written = NetworkXmlWriter.Format(first);
        var second = NetworkXmlReader.Parse(written);

        Assert.Equal(first, second);
        Assert.Equal(written, NetworkXmlWriter.Format(second));
    }

    [Fact]
    public void AnIsolatedNetworkHasNoForwardAndKeepsItsNetmaskForm()
    {
        var n = NetworkXmlReader.Parse("<network><name>iso</name><ip address='10.1.2.1' netmask='255.255.255.0'/></network>");
        string xml = NetworkXmlWriter.Format(n);

        Assert.Equal(ForwardMode.Isolated, n.Forward);
        Assert.DoesNotContain("<forward", xml);
        Assert.Contains("netmask=\"255.255.255.0\"", xml);
        Assert.Null(n.Ip!.Range);
    }

    [Theory]
    [InlineData("<network><name>x</name><dns><host ip='1.2.3.4'/></dns></network>", ManagerError.ConfigUnsupported, "<dns> is not supported")]
    [InlineData("<network><name>x</name><domain name='lan'/></network>", ManagerError.ConfigUnsupported, "<domain> is not supported")]
    [InlineData("<network><name>x</name><forward mode='route'/><ip address='10.0.0.1' prefix='24'/></network>", ManagerError.ConfigUnsupported, "mode='route'")]
    [InlineData("<network><name>x</name><forward mode='nat' dev='eth0'/><ip address='10.0.0.1' prefix='24'/></network>", ManagerError.ConfigUnsupported, "<forward dev='eth0'>")]
    [InlineData("<network><name>x</name><forward mode='nat'><nat><port start='1' end='2'/></nat></forward><ip address='10.0.0.1' prefix='24'/></network>", ManagerError.ConfigUnsupported, "<nat> in <forward>")]
    [InlineData("<network><name>x</name><ip family='ipv6' address='fd00::1' prefix='64'/></network>", ManagerError.ConfigUnsupported, "family='ipv6'")]
    [InlineData("<network><name>x</name><bridge name='br0' macTableManager='libvirt'/></network>", ManagerError.ConfigUnsupported, "'macTableManager' of <bridge>")]
    [InlineData("<network><name>x</name><forward mode='nat'/></network>", ManagerError.XmlError, "no <ip>")]
    [InlineData("<network><name>x</name><bridge name='br&quot;0'/></network>", ManagerError.XmlError, "bridge name")]
    [InlineData("<network><name>x</name><bridge name='a-very-long-bridge-name'/></network>", ManagerError.XmlError, "bridge name")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1' netmask='255.0.255.0'/></network>", ManagerError.XmlError, "netmask '255.0.255.0'")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1' prefix='24' netmask='255.255.255.0'/></network>", ManagerError.XmlError, "both netmask and prefix")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1'/></network>", ManagerError.XmlError, "netmask or a prefix")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1' prefix='31'/></network>", ManagerError.ConfigUnsupported, "prefix 31")]
    [InlineData("<network><name>x</name><ip address='10.0.0.0' prefix='24'/></network>", ManagerError.XmlError, "network's own or its broadcast")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1.5' prefix='24'/></network>", ManagerError.XmlError, "not an IPv4 address")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.1.2' end='10.0.1.9'/></dhcp></ip></network>", ManagerError.XmlError, "start '10.0.1.2'")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1' prefix='24'><dhcp><range start='10.0.0.9' end='10.0.0.2'/></dhcp></ip></network>", ManagerError.XmlError, "after its end")]
    [InlineData("<network><name>x</name><ip address='10.0.0.5' prefix='24'><dhcp><range start='10.0.0.2' end='10.0.0.9'/></dhcp></ip></network>", ManagerError.XmlError, "host's own address")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1' prefix='24'><dhcp><host ip='10.0.0.7'/></dhcp></ip></network>", ManagerError.XmlError, "needs a mac or a name")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1' prefix='24'><dhcp><host name='a' ip='10.0.0.1'/></dhcp></ip></network>", ManagerError.XmlError, "host's own address")]
    [InlineData("<network><name>x</name><ip address='10.0.0.1' prefix='24'><dhcp><bootp file='pxe'/></dhcp></ip></network>", ManagerError.ConfigUnsupported, "<bootp> in <dhcp>")]
    [InlineData("<network><name>a/b</name></network>", ManagerError.XmlError, "cannot contain '/'")]
    [InlineData("<network><uuid>123</uuid><name>x</name></network>", ManagerError.XmlError, "<uuid> '123'")]
    [InlineData("<net><name>x</name></net>", ManagerError.XmlError, "expected <network>")]
    [InlineData("<!DOCTYPE network [<!ENTITY x 'y'>]><network><name>&x;</name></network>", ManagerError.XmlError, "<!DOCTYPE>")]
    public void WhatWeCannotHonourIsRefusedByName(string xml, ManagerError error, string mention)
    {
        Refused(() => NetworkXmlReader.Parse(xml), error, mention);
    }

    [Fact]
    public void ADomainInterfaceOnANetworkRoundTripsAndNamesItsNetwork()
    {
        var d = DomainXmlReader.Parse(Minimal("<interface type='network'><source network='default'/><model type='virtio'/></interface>"));
        var nic = Assert.Single(d.Interfaces);
        string xml = DomainXmlWriter.Format(d);

        Assert.Equal("default", nic.Network);
        Assert.Equal("", nic.Tap);
        Assert.NotNull(nic.Mac);
        Assert.NotNull(nic.Slot);
        Assert.Contains("<interface type=\"network\">", xml.Replace('\'', '"'));
        Assert.Equal(d, DomainXmlReader.Parse(xml));
        // The live XML's tap name, fed back, is ignored as libvirt ignores it.
        Assert.Equal(d, DomainXmlReader.Parse(DomainXmlWriter.Format(d.WithNetworkTaps(_ => "vnet7"))));
        Assert.Equal("vnet3", d.WithNetworkTaps(_ => "vnet3").ToMachineConfig("/c", null).Nets[0].Tap);
    }
}

/// <summary>The host side's pure parts: dnsmasq's lease file, the default network's subnet, the generated conf and ruleset.</summary>
public class NetworkHostFilesTests
{
    [Fact]
    public void LeaseFileLinesBecomeLeasesAndGarbageIsSkipped()
    {
        string[] lines =
        [
            "1764778800 52:54:00:aa:bb:cc 192.168.122.57 guest1 01:52:54:00:aa:bb:cc",
            "0 52:54:00:aa:bb:cd 192.168.122.58 * *",
            "duid 00:01:00:01:2c:aa:bb:cc:dd:ee:ff:00:11:22",
            "not a lease at all",
            "1764778800 zz:54:00:aa:bb:cc 192.168.122.59 x *",
            "1764778800 52:54:00:aa:bb:ce 192.168.122.300 x *",
        ];

        var leases = DhcpLeaseFile.Parse(lines, "virbr0", 24);

        Assert.Equal(2, leases.Count);
        Assert.Equal(new DhcpLease("virbr0", 1764778800, "52:54:00:aa:bb:cc", "192.168.122.57", 24, "guest1", "01:52:54:00:aa:bb:cc"), leases[0]);
        Assert.Equal(new DhcpLease("virbr0", 0, "52:54:00:aa:bb:cd", "192.168.122.58", 24, null, null), leases[1]);
    }

    [Fact]
    public void TheDefaultNetworkTakesTheFirstFree192168Subnet()
    {
        var free = DefaultNetwork.Choose([Sub("10.0.0.0", 8)], "virbr0");
        var taken = DefaultNetwork.Choose([Sub("192.168.122.0", 24), Sub("192.168.123.0", 25)], "virbr1");

        Assert.Equal("192.168.122.1", free.Ip!.Address.ToString());
        Assert.Equal(ForwardMode.Nat, free.Forward);
        Assert.Equal("192.168.124.1", taken.Ip!.Address.ToString());
        Assert.Equal("192.168.124.254", taken.Ip.Range!.End.ToString());
        Assert.Equal("virbr1", taken.Bridge);
        Refused(() => DefaultNetwork.Choose([Sub("192.168.0.0", 16)], "virbr0"), ManagerError.OperationFailed, "192.168.N.0/24");
    }

    [Fact]
    public void DnsmasqServesTheBridgeAloneAndReadsNothingOfTheHosts()
    {
        var n = NetworkXmlReader.Parse("""
            <network><name>n</name><bridge name='kvbr3'/><forward mode='nat'/>
              <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.19'/><host mac='52:54:00:00:00:01' ip='10.9.0.5'/></dhcp></ip>
            </network>
            """);
        var paths = new NetworkPaths("/state/networks/n");
        string conf = DnsmasqConfig.Build(n, paths, [IPAddress.Parse("10.0.0.53")]);
        var lines = conf.Split('\n');

        foreach (string line in (string[])["interface=kvbr3", "bind-interfaces", "except-interface=lo", "no-hosts", "no-resolv", "server=10.0.0.53",
                     "dhcp-range=10.9.0.10,10.9.0.19,255.255.255.0", "dhcp-host=52:54:00:00:00:01,10.9.0.5", "dhcp-leasefile=/state/networks/n/dnsmasq.leases",
                     "pid-file=/state/networks/n/dnsmasq.pid", "dhcp-lease-max=11"])
            Assert.Contains(line, lines);
    }

    [Fact]
    public void NatMasqueradesTheSubnetAndIsolatedForwardsNothing()
    {
        var nat = NetworkXmlReader.Parse("<network><name>n</name><bridge name='kvbr3'/><forward/><ip address='10.9.0.1' prefix='24'/></network>");
        var isolated = nat with { Forward = ForwardMode.Isolated };

        string natScript = NftRuleset.Script("kvmsharp_t", nat);
        string isolatedScript = NftRuleset.Script("kvmsharp_t", isolated);

        Assert.Contains("ip saddr 10.9.0.0/24 ip daddr != 10.9.0.0/24 masquerade", natScript);
        Assert.Contains("iifname \"kvbr3\" ip saddr 10.9.0.0/24 accept", natScript);
        Assert.DoesNotContain("masquerade", isolatedScript);
        Assert.DoesNotContain("ip saddr", isolatedScript);
        Assert.Contains("oifname \"kvbr3\" reject", isolatedScript);
    }

    private static Ipv4Subnet Sub(string address, int prefix) => Ipv4Subnet.Of(IPAddress.Parse(address), prefix);
}
