using KvmSharp.Tests.Boot;
using KvmSharp.Tests.Cli;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// Debian's python3-libvirt drives the default guest on kvmsharpd through its whole life: define, start, a console
/// stream both ways, suspend and resume (output stops and goes on), save and restore, a snapshot and its revert
/// (memory and the qcow2 disk's internal snapshot go back; qemu-img lists and checks it), a graceful shutdown, undefine, and the lifecycle events of all of it, in order.
/// </summary>
public sealed class PythonLibvirtTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-py").FullName;

    [Fact]
    public void PythonLibvirtDrivesTheDefaultGuestThroughItsWholeLife()
    {
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        // qcow2: the snapshot keeps the disk inside the image, which qemu-img then lists and checks.
        string disk = Path.Combine(_dir, "disk.qcow2");
        KvmSharp.Storage.Qcow2Creator.Create(disk, 4 << 20);
        string xml = Path.Combine(_dir, "guest.xml");
        File.WriteAllText(xml, DefaultGuestDomain.Xml(guest, "pyguest", disk, "qcow2"));
        string script = Path.Combine(CliProcess.RepositoryRoot, "tests", "KvmSharp.Tests", "Manager", "Daemon", "libvirt_flow.py");

        var (code, stdout, stderr) = Tool.Run("/usr/bin/python3", [script, daemon.Uri, xml, disk, _dir], seconds: 900,
            context: () => $"\ndaemon:\n{DaemonProcess.Tail(daemon.Log)}\nVMM:\n{VmmLog()}");

        Assert.True(code == 0 && stdout.Contains("ALL OK"), $"python-libvirt flow failed ({code}):\n{stdout}\n{stderr}\ndaemon:\n{DaemonProcess.Tail(daemon.Log)}");
    }

    private string VmmLog()
    {
        string log = Path.Combine(_dir, "state", "domains", "pyguest", "vmm.log");
        return File.Exists(log) ? DaemonProcess.Tail(File.ReadAllText(log)) : "(none)";
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
