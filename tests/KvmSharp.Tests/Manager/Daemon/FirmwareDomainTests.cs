using System.Text.RegularExpressions;
using KvmSharp.Tests.Firmware;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>virsh defines and starts a domain whose &lt;os&gt; says &lt;boot dev='hd'/&gt;: SeaBIOS boots GRUB from its disk.</summary>
public sealed class FirmwareDomainTests(GrubDiskFixture disk) : IClassFixture<GrubDiskFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-firmware").FullName;

    [Fact]
    public void VirshStartsADomainThatBootsItsDiskThroughSeaBios()
    {
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        string xml = Path.Combine(_dir, "bios.xml");
        File.WriteAllText(xml, DefaultGuestDomain.FirmwareXml("bguest", disk.DiskPath));
        daemon.VirshOk("define", xml);
        Assert.Matches("<boot dev=[\"']hd[\"']", daemon.VirshOk("dumpxml", "bguest"));
        daemon.VirshOk("start", "bguest");
        Assert.Matches(@"\d+\s+bguest\s+running", daemon.VirshOk("list"));
        using (var console = new VirshConsole(daemon.Uri, "bguest"))
            console.Run("echo bios-$((8*8))", "bios-64");
        daemon.VirshOk("destroy", "bguest");
        daemon.VirshOk("undefine", "bguest");
        Assert.DoesNotMatch(new Regex("bguest"), daemon.VirshOk("list", "--all"));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
