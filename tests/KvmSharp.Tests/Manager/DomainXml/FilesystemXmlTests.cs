using KvmSharp.Machine.Config;
using KvmSharp.Manager.Domains;
using KvmSharp.Manager.DomainXml;
using static KvmSharp.Tests.Manager.DomainXml.DomainXmlSamples;

namespace KvmSharp.Tests.Manager.DomainXml;

/// <summary>libvirt's &lt;filesystem&gt; for virtio-fs: read, mapped onto the machine config, written back, and what is refused.</summary>
public class FilesystemXmlTests
{
    private const string Share = "<filesystem type='mount' accessmode='passthrough'><driver type='virtiofs'/>"
        + "<source dir='/srv/share'/><target dir='hostshare'/></filesystem>";
    private const string ReadOnlyShare = "<filesystem type='mount'><driver type='virtiofs' /><source dir='/srv/ro'/>"
        + "<target dir='ro'/><readonly/><address type='pci' domain='0x0000' bus='0x00' slot='0x09' function='0x0'/></filesystem>";

    [Fact]
    public void A_share_is_read_mapped_and_written_back()
    {
        var d = DomainXmlReader.Parse(Minimal(Share + ReadOnlyShare));
        Assert.Equal([new DomainFilesystem("/srv/share", "hostshare") { Slot = d.Filesystems[0].Slot }, new DomainFilesystem("/srv/ro", "ro", true) { Slot = 9 }], d.Filesystems);
        Assert.NotNull(d.Filesystems[0].Slot);
        var config = d.ToMachineConfig("/c", null);
        Assert.Empty(config.Validate());
        Assert.Equal(new FsConfig("hostshare", "/srv/share") { Id = "fs0", Slot = d.Filesystems[0].Slot }, config.Filesystems[0]);
        Assert.Equal(new FsConfig("ro", "/srv/ro", ReadOnly: true) { Id = "fs1", Slot = 9 }, config.Filesystems[1]);
        string xml = DomainXmlWriter.Format(d);
        Assert.Contains("<filesystem type=\"mount\" accessmode=\"passthrough\">", xml);
        Assert.Contains("<driver type=\"virtiofs\" />", xml);
        Assert.Equal(d, DomainXmlReader.Parse(xml));
        Assert.Equal(xml, DomainXmlWriter.Format(DomainXmlReader.Parse(xml)));
    }

    [Theory]
    [InlineData("<filesystem type='mount'><driver type='path'/><source dir='/a'/><target dir='t'/></filesystem>", "type='path'")]
    [InlineData("<filesystem type='block'><driver type='virtiofs'/><source dir='/a'/><target dir='t'/></filesystem>", "type='block'")]
    [InlineData("<filesystem type='mount' accessmode='mapped'><driver type='virtiofs'/><source dir='/a'/><target dir='t'/></filesystem>", "accessmode='mapped'")]
    [InlineData("<filesystem type='mount'><source dir='/a'/><target dir='t'/></filesystem>", "<driver type='virtiofs'/>")]
    [InlineData("<filesystem type='mount'><driver type='virtiofs'/><binary path='/usr/libexec/virtiofsd'/><source dir='/a'/><target dir='t'/></filesystem>", "<binary>")]
    public void Other_kinds_of_filesystem_are_refused_by_name(string devices, string mention)
    {
        var e = Assert.ThrowsAny<ManagerException>(() => DomainXmlReader.Parse(Minimal(devices)));
        Assert.Contains(mention, e.Message);
    }

    [Theory]
    [InlineData("<filesystem type='mount'><driver type='virtiofs'/><source dir='relative'/><target dir='t'/></filesystem>", "relative")]
    [InlineData("<filesystem type='mount'><driver type='virtiofs'/><source dir='/a'/><target dir='a-tag-that-is-longer-than-thirty-six-bytes'/></filesystem>", "36 bytes")]
    [InlineData("<filesystem type='mount'><driver type='virtiofs'/><source dir='/a'/><target dir='t'/></filesystem><filesystem type='mount'><driver type='virtiofs'/><source dir='/b'/><target dir='t'/></filesystem>", "given twice")]
    public void Wrong_values_are_one_clear_error(string devices, string mention)
    {
        var e = Assert.ThrowsAny<ManagerException>(() => DomainXmlReader.Parse(Minimal(devices)));
        Assert.Contains(mention, e.Message);
        Assert.DoesNotContain("   at ", e.Message);
    }
}
