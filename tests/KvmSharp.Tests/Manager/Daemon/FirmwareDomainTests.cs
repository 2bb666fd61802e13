using System.Text.RegularExpressions;
using KvmSharp.Tests.Firmware;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// virsh defines and starts domains that firmware boots: SeaBIOS boots GRUB from the disk whose &lt;boot order='1'/&gt;
/// names it (behind a blank disk), OVMF the disk of &lt;os&gt;&lt;boot dev='hd'/&gt;.
/// </summary>
public sealed class FirmwareDomainTests(GrubDiskFixture disk) : IClassFixture<GrubDiskFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-firmware").FullName;

    [Fact]
    public void VirshStartsADomainThatBootsItsSecondDiskByBootOrderThroughSeaBios()
    {
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        string xml = Path.Combine(_dir, "bios.xml");
        string blank = Path.Combine(_dir, "blank.raw");
        File.WriteAllBytes(blank, new byte[1 << 20]);
        File.WriteAllText(xml, DefaultGuestDomain.OrderedFirmwareXml("bguest", disk.DiskPath, blank));
        daemon.VirshOk("define", xml);
        string dumped = daemon.VirshOk("dumpxml", "bguest");
        Assert.Matches("<target dev=[\"']vdb[\"'] bus=[\"']virtio[\"'] />\\s*<boot order=[\"']1[\"'] />", dumped);
        Assert.DoesNotMatch("<boot dev=", dumped);
        daemon.VirshOk("start", "bguest");
        Assert.Matches(@"\d+\s+bguest\s+running", daemon.VirshOk("list"));
        using (var console = new VirshConsole(daemon.Uri, "bguest"))
            console.Run("echo bios-$((8*8))", "bios-64");
        daemon.VirshOk("destroy", "bguest");
        daemon.VirshOk("undefine", "bguest");
        Assert.DoesNotMatch(new Regex("bguest"), daemon.VirshOk("list", "--all"));
    }

    [Fact]
    public void VirshStartsAUefiDomainWhoseVariableStoreTheDaemonKeepsUntilUndefineNvram()
    {
        Assert.SkipUnless(File.Exists(KvmSharp.Machine.Config.FirmwareConfig.DebianOvmfCode), "Debian's ovmf package is not installed");
        string uefiDisk = Path.Combine(_dir, "uefi.raw");
        KvmSharp.Machine.Images.BootDisks.DefaultGuestDisk.Build(uefiDisk, execCommand: null, _ => { }, KvmSharp.Machine.Images.BootDisks.BootDiskLayout.Uefi);
        string state = Path.Combine(_dir, "state");
        using var daemon = new DaemonProcess(state);
        string xml = Path.Combine(_dir, "uefi.xml");
        File.WriteAllText(xml, DefaultGuestDomain.UefiXml("uguest", uefiDisk));
        daemon.VirshOk("define", xml);
        string nvram = Path.Combine(state, "nvram", "uguest_VARS.fd");
        string dumped = daemon.VirshOk("dumpxml", "uguest");
        Assert.Matches("<os firmware=[\"']efi[\"']>", dumped);
        Assert.Contains($"<nvram>{nvram}</nvram>", dumped);
        daemon.VirshOk("start", "uguest");
        using (var console = new VirshConsole(daemon.Uri, "uguest"))
            console.Run("echo uefi-$((9*9)); ls /sys/firmware/efi", "uefi-81");
        daemon.VirshOk("destroy", "uguest");
        Assert.True(File.Exists(nvram), "OVMF's variable store was not created");
        Assert.NotEqual(File.ReadAllBytes(KvmSharp.Machine.Config.FirmwareConfig.DebianOvmfVars), File.ReadAllBytes(nvram));
        Assert.Contains("cannot undefine domain with nvram", daemon.Virsh("undefine", "uguest").Stderr);
        daemon.VirshOk("undefine", "--nvram", "uguest");
        Assert.False(File.Exists(nvram));
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
