using KvmSharp.Machine.Config;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using KvmSharp.Manager.Storage;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.Storage;

/// <summary>Pool and volume XML as virsh writes it, hostile variants refused by name, and &lt;disk type='volume'&gt; through a domain's life.</summary>
public class StorageXmlTests
{
    [Fact]
    public void PoolDefineAsXmlReadsAndWritesBack()
    {
        // What virsh pool-define-as NAME dir --target PATH sends.
        var pool = PoolXml.Parse("<pool type='dir'>\n  <name>tp</name>\n  <target>\n    <path>/srv/pool/</path>\n  </target>\n</pool>\n");
        Assert.Equal("tp", pool.Name);
        Assert.Equal("/srv/pool", pool.TargetPath);
        Assert.NotEqual(Guid.Empty, pool.Uuid);
        var again = PoolXml.Parse(PoolXml.Format(pool, new PoolInfo(PoolInfo.Running, 10, 4, 6)));
        Assert.Equal(pool with { Mode = PoolDefinition.DefaultMode }, again);
    }

    [Theory]
    [InlineData("<pool type='dir'><name>a/b</name><target><path>/x</path></target></pool>", ManagerError.XmlError, "cannot contain '/'")]
    [InlineData("<pool type='dir'><name>.hidden</name><target><path>/x</path></target></pool>", ManagerError.XmlError, "cannot begin with '.'")]
    [InlineData("<pool type='dir'><name>p</name></pool>", ManagerError.XmlError, "<target> is missing")]
    [InlineData("<pool type='dir'><name>p</name><target><path>x</path></target></pool>", ManagerError.XmlError, "absolute path")]
    [InlineData("<pool type='iscsi'><name>p</name><target><path>/x</path></target></pool>", ManagerError.ConfigUnsupported, "pool type 'iscsi'")]
    [InlineData("<pool type='dir'><name>p</name><source><host name='h'/></source><target><path>/x</path></target></pool>", ManagerError.ConfigUnsupported, "<host> in <source>")]
    [InlineData("<pool type='dir'><name>p</name><target><path>/x</path><permissions><mode>999</mode></permissions></target></pool>", ManagerError.XmlError, "octal")]
    [InlineData("<pool type='dir'><name>p</name><uuid>nope</uuid><target><path>/x</path></target></pool>", ManagerError.XmlError, "<uuid>")]
    [InlineData("<pool type='dir'><name>p</name><target><path>/x</path></target><features/></pool>", ManagerError.ConfigUnsupported, "<features>")]
    [InlineData("<volume><name>v</name><capacity>1</capacity></volume>", ManagerError.XmlError, "expected <pool>")]
    public void BadPoolXmlIsRefusedByName(string xml, ManagerError error, string mention) =>
        Refused(() => PoolXml.Parse(xml), error, mention);

    [Fact]
    public void VolCreateAsXmlReadsWithItsBackingStore()
    {
        var v = VolumeXml.Parse("<volume><name>top.qcow2</name><capacity>16777216</capacity><target><format type='qcow2'/></target>"
                                + "<backingStore><path>/p/base.raw</path><format type='raw'/></backingStore></volume>");
        Assert.Equal(new VolumeRequest("top.qcow2", 16UL << 20, VolumeFormat.Qcow2, "/p/base.raw", VolumeFormat.Raw), v);
        Assert.Equal(3UL << 30, VolumeXml.Parse("<volume><name>v</name><capacity unit='G'>3</capacity></volume>").Capacity);
    }

    [Theory]
    [InlineData("<volume><name>../x</name><capacity>1</capacity></volume>", ManagerError.XmlError, "cannot contain '/'")]
    [InlineData("<volume><name>..</name><capacity>1</capacity></volume>", ManagerError.XmlError, "cannot begin with '.'")]
    [InlineData("<volume><name>v</name></volume>", ManagerError.XmlError, "<capacity> is missing")]
    [InlineData("<volume><name>v</name><capacity unit='EiB'>100</capacity></volume>", ManagerError.XmlError, "does not fit in 64 bits")]
    [InlineData("<volume><name>v</name><capacity>18446744073709551616</capacity></volume>", ManagerError.XmlError, "whole number")]
    [InlineData("<volume><name>v</name><capacity unit='PiB'>65</capacity></volume>", ManagerError.XmlError, "2^56")]
    [InlineData("<volume><name>v</name><capacity unit='parsec'>1</capacity></volume>", ManagerError.XmlError, "unit 'parsec'")]
    [InlineData("<volume><name>v</name><capacity>1</capacity><target><format type='vmdk'/></target></volume>", ManagerError.ConfigUnsupported, "type='vmdk'")]
    [InlineData("<volume><name>v</name><capacity>1</capacity><backingStore><path>rel</path></backingStore></volume>", ManagerError.XmlError, "absolute path")]
    [InlineData("<volume type='block'><name>v</name><capacity>1</capacity></volume>", ManagerError.ConfigUnsupported, "type='block'")]
    [InlineData("<volume><name>v</name><capacity>1</capacity><encryption format='luks'/></volume>", ManagerError.ConfigUnsupported, "<encryption>")]
    public void BadVolumeXmlIsRefusedByName(string xml, ManagerError error, string mention) =>
        Refused(() => VolumeXml.Parse(xml), error, mention);

    [Fact]
    public void AVolumeDiskKeepsItsPoolAndVolumeAndTakesItsFormatFromThePool()
    {
        const string disk = "<disk type='volume' device='disk'><source pool='tp' volume='top.qcow2'/><target dev='vda' bus='virtio'/></disk>";
        var domain = DomainXmlReader.Parse(Minimal(disk));
        var volume = Assert.Single(domain.Disks).Volume;
        Assert.Equal(new DiskVolume("tp", "top.qcow2", FormatGiven: false), volume);
        // Written back as it was given, and read again to the same definition.
        Assert.Equal(domain, DomainXmlReader.Parse(DomainXmlWriter.Format(domain)));

        var resolved = DiskVolume.Resolve(domain, new OneVolume("/pool/top.qcow2", VolumeFormat.Qcow2));
        var config = resolved.ToMachineConfig("/console", null);
        Assert.Equal("/pool/top.qcow2", config.Disks[0].Path);
        Assert.Equal(DiskFormat.Qcow2, config.Disks[0].Format);

        // A <driver type> that is given wins, as in libvirt.
        var raw = DomainXmlReader.Parse(Minimal(disk.Replace("<source", "<driver name='qemu' type='raw'/><source")));
        Assert.Equal(DiskFormat.Raw, DiskVolume.Resolve(raw, new OneVolume("/pool/top.qcow2", VolumeFormat.Qcow2)).Disks[0].Format);
    }

    [Theory]
    [InlineData("<disk type='volume'><source pool='a/b' volume='v'/><target dev='vda'/></disk>", ManagerError.XmlError, "the pool 'a/b'")]
    [InlineData("<disk type='volume'><source pool='p' volume='../../etc/shadow'/><target dev='vda'/></disk>", ManagerError.XmlError, "the volume '../../etc/shadow'")]
    [InlineData("<disk type='volume'><source pool='p'/><target dev='vda'/></disk>", ManagerError.XmlError, "'volume'")]
    [InlineData("<disk type='volume'><source pool='p' volume='v' mode='host'/><target dev='vda'/></disk>", ManagerError.ConfigUnsupported, "'mode' of <source>")]
    public void BadVolumeDisksAreRefusedByName(string disk, ManagerError error, string mention) =>
        Refused(Minimal(disk), error, mention);

    [Fact]
    public void AVolumeDiskWithoutPoolsIsRefusedAtStart()
    {
        var domain = DomainXmlReader.Parse(Minimal("<disk type='volume'><source pool='p' volume='v'/><target dev='vda'/></disk>"));
        Refused(() => DiskVolume.Resolve(domain, null), ManagerError.NoSupport, "<disk type='volume'>");
    }

    private sealed class OneVolume(string path, VolumeFormat format) : IVolumeResolver
    {
        public (string Path, VolumeFormat Format) Resolve(string pool, string volume) => (path, format);
    }
}
