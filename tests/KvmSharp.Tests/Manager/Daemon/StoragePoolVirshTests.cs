using System.Security;
using System.Text.RegularExpressions;
using KvmSharp.Machine.Images;
using KvmSharp.Tests.Boot;

namespace KvmSharp.Tests.Manager.Daemon;

/// <summary>
/// Debian's virsh 9.0 manages a dir pool on kvmsharpd: pool-define-as/build/start/list/info/refresh/destroy/undefine,
/// volumes raw and qcow2 (one over a backing volume), listed, inspected, cloned, resized, uploaded, downloaded and
/// deleted, each result checked against the files with qemu-img as the independent reader; hostile names, sizes and
/// XML are refused with one line and change nothing. A domain's &lt;disk type='volume'&gt; boots the default guest,
/// which reads the volume through its backing chain.
/// </summary>
public sealed partial class StoragePoolVirshTests(DebianKernelFixture guest) : IClassFixture<DebianKernelFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharpd-pools").FullName;

    private string PoolDir => Path.Combine(_dir, "pool");

    [Fact]
    public void VirshManagesADirPoolAndItsVolumes()
    {
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        daemon.VirshOk("pool-define-as", "tp", "dir", "--target", PoolDir);
        Assert.False(Directory.Exists(PoolDir));
        var (startCode, _, startError) = daemon.Virsh("pool-start", "tp");
        Assert.NotEqual(0, startCode);
        Assert.Contains($"cannot open directory '{PoolDir}'", startError);
        daemon.VirshOk("pool-build", "tp");
        Assert.True(Directory.Exists(PoolDir));
        daemon.VirshOk("pool-start", "tp");
        daemon.VirshOk("pool-autostart", "tp");
        Assert.Matches(@"tp\s+active\s+yes", daemon.VirshOk("pool-list", "--all"));
        string info = daemon.VirshOk("pool-info", "tp");
        Assert.Matches(@"State:\s+running", info);
        Assert.Matches(@"Capacity:\s+[1-9]", info);
        Assert.Contains($"<path>{PoolDir}</path>", daemon.VirshOk("pool-dumpxml", "tp"));

        // Volumes: raw (sparse), qcow2, and a qcow2 over a backing volume; qemu-img reads what we made.
        daemon.VirshOk("vol-create-as", "tp", "disk.raw", "8M");
        daemon.VirshOk("vol-create-as", "tp", "base.qcow2", "16M", "--format", "qcow2");
        daemon.VirshOk("vol-create-as", "tp", "top.qcow2", "16M", "--format", "qcow2", "--backing-vol", "base.qcow2", "--backing-vol-format", "qcow2");
        Assert.Equal(8L << 20, new FileInfo(Vol("disk.raw")).Length);
        string topInfo = Qemu("info", "--output=json", Vol("top.qcow2"));
        Assert.Contains("\"virtual-size\": 16777216", topInfo);
        Assert.Contains($"\"backing-filename\": \"{Vol("base.qcow2")}\"", topInfo);
        Assert.Contains("\"backing-filename-format\": \"qcow2\"", topInfo);
        Assert.Contains("No errors were found", Qemu("check", Vol("top.qcow2")));
        Assert.Matches(@"(?m)^\s*top\.qcow2\s+" + Regex.Escape(Vol("top.qcow2")) + @"\s+file\s+16\.00 MiB", daemon.VirshOk("vol-list", "tp", "--details"));
        Assert.Equal(Vol("disk.raw"), daemon.VirshOk("vol-path", "--pool", "tp", "disk.raw").Trim());
        Assert.Matches(@"Capacity:\s+8\.00 MiB", daemon.VirshOk("vol-info", "--pool", "tp", "disk.raw"));
        string topXml = daemon.VirshOk("vol-dumpxml", "--pool", "tp", "top.qcow2");
        Assert.Contains("<format type=\"qcow2\" />", topXml);
        Assert.Contains($"<backingStore>", topXml);

        // Upload and download are the file's bytes, whole or from an offset.
        var payload = new byte[3 << 20];
        new Random(13).NextBytes(payload);
        string upload = Path.Combine(_dir, "up.bin");
        File.WriteAllBytes(upload, payload);
        daemon.VirshOk("vol-upload", "--pool", "tp", "disk.raw", upload);
        Assert.Equal(payload, File.ReadAllBytes(Vol("disk.raw")).AsSpan(0, payload.Length).ToArray());
        string download = Path.Combine(_dir, "down.bin");
        daemon.VirshOk("vol-download", "--pool", "tp", "disk.raw", download, "--offset", "4096", "--length", "65536");
        Assert.Equal(payload.AsSpan(4096, 65536).ToArray(), File.ReadAllBytes(download));
        daemon.VirshOk("vol-download", "--pool", "tp", "disk.raw", download);
        Assert.Equal(File.ReadAllBytes(Vol("disk.raw")), File.ReadAllBytes(download));

        // Clone: a sparse copy in the same format; a qcow2 clone keeps its backing file.
        daemon.VirshOk("vol-clone", "--pool", "tp", "disk.raw", "copy.raw");
        Assert.Equal(File.ReadAllBytes(Vol("disk.raw")), File.ReadAllBytes(Vol("copy.raw")));
        daemon.VirshOk("vol-clone", "--pool", "tp", "top.qcow2", "top2.qcow2");
        Assert.Contains($"\"backing-filename\": \"{Vol("base.qcow2")}\"", Qemu("info", "--output=json", Vol("top2.qcow2")));

        // Resize: raw by truncation (shrink only with --shrink), qcow2 growth by our own code, past the first L1 cluster.
        daemon.VirshOk("vol-resize", "--pool", "tp", "disk.raw", "16M");
        Assert.Equal(16L << 20, new FileInfo(Vol("disk.raw")).Length);
        var (shrinkCode, _, shrinkError) = daemon.Virsh("vol-resize", "--pool", "tp", "disk.raw", "4M");
        Assert.NotEqual(0, shrinkCode);
        Assert.Contains("Can't shrink capacity below current capacity unless shrink flag explicitly specified", shrinkError);
        daemon.VirshOk("vol-resize", "--pool", "tp", "disk.raw", "4M", "--shrink");
        Assert.Equal(4L << 20, new FileInfo(Vol("disk.raw")).Length);
        daemon.VirshOk("vol-resize", "--pool", "tp", "base.qcow2", "5T");
        Assert.Contains("\"virtual-size\": 5497558138880", Qemu("info", "--output=json", Vol("base.qcow2")));
        Assert.Contains("No errors were found", Qemu("check", Vol("base.qcow2")));
        var (qShrinkCode, _, qShrinkError) = daemon.Virsh("vol-resize", "--pool", "tp", "base.qcow2", "1G", "--shrink");
        Assert.NotEqual(0, qShrinkCode);
        Assert.Contains("shrinking the qcow2 volume 'base.qcow2' is not supported", qShrinkError);

        // A file dropped into the directory is a volume after a refresh, its format probed once; symlinks and hidden files are not.
        Qemu("create", "-f", "qcow2", Vol("dropped.qcow2"), "1G");
        File.CreateSymbolicLink(Vol("escape"), "/etc/passwd");
        File.WriteAllBytes(Vol(".hidden"), new byte[512]);
        Assert.DoesNotContain("dropped.qcow2", daemon.VirshOk("vol-list", "tp"));
        daemon.VirshOk("pool-refresh", "tp");
        string listed = daemon.VirshOk("vol-list", "tp", "--details");
        Assert.Matches(@"dropped\.qcow2\s+\S+\s+file\s+1\.00 GiB", listed);
        Assert.DoesNotContain("escape", listed);
        Assert.DoesNotContain(".hidden", listed);

        Hostile(daemon);

        daemon.VirshOk("vol-delete", "--pool", "tp", "copy.raw");
        Assert.False(File.Exists(Vol("copy.raw")));
        Assert.DoesNotContain("copy.raw", daemon.VirshOk("vol-list", "tp"));

        // The pool outlives the daemon: a new one finds it running, with its volumes.
        Assert.Equal(0, daemon.Terminate());
        daemon.Start();
        Assert.Matches(@"tp\s+active\s+yes", daemon.VirshOk("pool-list", "--all"));
        Assert.Contains("top.qcow2", daemon.VirshOk("vol-list", "tp"));

        var (undefineActiveCode, _, undefineActiveError) = daemon.Virsh("pool-undefine", "tp");
        Assert.NotEqual(0, undefineActiveCode);
        Assert.Contains("is still active", undefineActiveError);
        daemon.VirshOk("pool-destroy", "tp");
        Assert.Matches(@"tp\s+inactive", daemon.VirshOk("pool-list", "--all"));
        daemon.VirshOk("pool-undefine", "tp");
        Assert.DoesNotContain("tp", daemon.VirshOk("pool-list", "--all"));
        Assert.True(File.Exists(Vol("top.qcow2")), "undefining a pool removed its files");
    }

    /// <summary>Bad names, sizes, XML and uploads: each one line from the daemon, and the pool's files exactly as they were.</summary>
    private void Hostile(DaemonProcess daemon)
    {
        var before = Snapshot();
        string MustFail(params string[] arguments)
        {
            var (code, stdout, stderr) = daemon.Virsh(arguments);
            Assert.True(code != 0, $"virsh {string.Join(' ', arguments)} succeeded: {stdout}");
            Assert.DoesNotContain("   at ", stderr);   // no stack trace
            return stderr;
        }
        Assert.Contains("the volume name '../evil' cannot contain '/'", MustFail("vol-create-as", "tp", "../evil", "1M"));
        Assert.Contains("the volume name 'a/b' cannot contain '/'", MustFail("vol-create-as", "tp", "a/b", "1M"));
        Assert.Contains("the volume name '..' cannot begin with '.'", MustFail("vol-create-as", "tp", "..", "1M"));
        Assert.Contains("storage volume 'disk.raw' exists already", MustFail("vol-create-as", "tp", "disk.raw", "1M"));
        string huge = Path.Combine(_dir, "huge.xml");
        File.WriteAllText(huge, "<volume><name>huge</name><capacity unit='EiB'>100</capacity></volume>");
        Assert.Contains("does not fit in 64 bits", MustFail("vol-create", "tp", huge));
        File.WriteAllText(huge, "<volume><name>huge</name><capacity unit='PiB'>100</capacity></volume>");
        Assert.Contains("is larger than the", MustFail("vol-create", "tp", huge));
        Assert.Contains("capacity", MustFail("vol-resize", "--pool", "tp", "disk.raw", "--delta", "16000000000000000000"));

        string badPool = Path.Combine(_dir, "bad-pool.xml");
        File.WriteAllText(badPool, "<pool type='dir'><name>bad</name><target><path>relative</path></target></pool>");
        Assert.Contains("must be an absolute path", MustFail("pool-define", badPool));
        File.WriteAllText(badPool, "<pool type='netfs'><name>bad</name><target><path>/x</path></target></pool>");
        Assert.Contains("pool type 'netfs' is not supported", MustFail("pool-define", badPool));
        File.WriteAllText(badPool, "<pool type='dir'><name>bad</name><target><path>/x</path><extra/></target></pool>");
        Assert.Contains("<extra> in <target> is not supported", MustFail("pool-define", badPool));
        File.WriteAllText(badPool, "<!DOCTYPE x [<!ENTITY e SYSTEM '/etc/passwd'>]><pool type='dir'><name>&e;</name></pool>");
        Assert.Contains("XML error", MustFail("pool-define", badPool));
        Assert.Contains("cannot contain '/'", MustFail("pool-define-as", "a/b", "dir", "--target", "/tmp/x"));
        Assert.Contains("Storage source conflict with pool: 'tp'", MustFail("pool-define-as", "other", "dir", "--target", PoolDir));

        // Uploads never write past the end of the volume: a stated length is refused before a byte, a stream's crossing chunk whole.
        string upload = Path.Combine(_dir, "up.bin");
        long size = new FileInfo(Vol("disk.raw")).Length;
        Assert.Contains("run past the end of volume 'disk.raw'",
            MustFail("vol-upload", "--pool", "tp", "disk.raw", upload, "--offset", "0", "--length", (size + 1).ToString()));
        Assert.Contains("runs past the end of volume 'disk.raw'", MustFail("vol-upload", "--pool", "tp", "disk.raw", upload, "--offset", (size - 100).ToString()));
        Assert.Contains("is past the end of volume 'disk.raw'", MustFail("vol-upload", "--pool", "tp", "disk.raw", upload, "--offset", (size + 1).ToString()));
        Assert.Contains("Storage volume not found", MustFail("vol-info", "--pool", "tp", "escape"));
        Assert.Equal(before, Snapshot());
        Assert.DoesNotContain("bad", daemon.VirshOk("pool-list", "--all"));
    }

    [Fact]
    public void ADomainBootsWithAVolumeDiskAndReadsItThroughItsBackingChain()
    {
        using var daemon = new DaemonProcess(Path.Combine(_dir, "state"));
        daemon.VirshOk("pool-define-as", "vp", "dir", "--target", PoolDir);
        daemon.VirshOk("pool-build", "vp");
        daemon.VirshOk("pool-start", "vp");
        daemon.VirshOk("vol-create-as", "vp", "base.raw", "4M");
        string marker = Path.Combine(_dir, "marker.bin");
        File.WriteAllBytes(marker, "POOL-BASE-BYTES!"u8.ToArray());
        daemon.VirshOk("vol-upload", "--pool", "vp", "base.raw", marker);
        daemon.VirshOk("vol-create-as", "vp", "top.qcow2", "4M", "--format", "qcow2", "--backing-vol", "base.raw", "--backing-vol-format", "raw");

        // A volume that is not there refuses the start with libvirt's words; so does a pool that is not.
        string xml = Path.Combine(_dir, "guest.xml");
        File.WriteAllText(xml, VolumeDomain("vguest", "vp", "missing.qcow2"));
        daemon.VirshOk("define", xml);
        var (code, _, error) = daemon.Virsh("start", "vguest");
        Assert.NotEqual(0, code);
        Assert.Contains("Storage volume not found: no storage vol with matching name 'missing.qcow2'", error);
        File.WriteAllText(xml, VolumeDomain("vguest", "nopool", "top.qcow2"));
        daemon.VirshOk("define", xml);
        (code, _, error) = daemon.Virsh("start", "vguest");
        Assert.NotEqual(0, code);
        Assert.Contains("Storage pool not found: no storage pool with matching name 'nopool'", error);

        File.WriteAllText(xml, VolumeDomain("vguest", "vp", "top.qcow2"));
        daemon.VirshOk("define", xml);
        string dumped = daemon.VirshOk("dumpxml", "vguest");
        Assert.Matches("<disk type=[\"']volume[\"']", dumped);
        Assert.Matches("<source pool=[\"']vp[\"'] volume=[\"']top.qcow2[\"']", dumped);
        daemon.VirshOk("start", "vguest");
        using (var console = new VirshConsole(daemon.Uri, "vguest"))
        {
            // The qcow2 volume's format came from the pool: read as raw, its first bytes would be the qcow2 magic.
            console.Run("head -c 16 /dev/vda; echo", "POOL-BASE-BYTES!");
            console.Run("echo GUEST-WROTE-THIS | dd of=/dev/vda bs=512 seek=8 conv=fsync 2>/dev/null; echo wrote-$((6*7))", "wrote-42");
        }
        daemon.VirshOk("destroy", "vguest");
        // The write went to the overlay, the base is untouched, and qemu-img reads both through the chain.
        Assert.Contains("No errors were found", Qemu("check", Vol("top.qcow2")));
        string flat = Path.Combine(_dir, "flat.raw");
        Qemu("convert", "-O", "raw", Vol("top.qcow2"), flat);
        var bytes = File.ReadAllBytes(flat);
        Assert.Equal("POOL-BASE-BYTES!", System.Text.Encoding.ASCII.GetString(bytes, 0, 16));
        Assert.Equal("GUEST-WROTE-THIS", System.Text.Encoding.ASCII.GetString(bytes, 4096, 16));
        Assert.Equal(0, File.ReadAllBytes(Vol("base.raw"))[4096]);
        daemon.VirshOk("undefine", "vguest");
    }

    /// <summary>The default guest with one disk, a pool's volume, its format left to the pool.</summary>
    private string VolumeDomain(string name, string pool, string volume) => $"""
        <domain type='qemu'>
          <name>{name}</name>
          <uuid>5e1f0c2a-9d3b-4c6e-8f7a-2b4d6e8f0a1c</uuid>
          <memory unit='MiB'>256</memory>
          <vcpu>1</vcpu>
          <os>
            <type arch='x86_64'>hvm</type>
            <kernel>{SecurityElement.Escape(guest.Guest.KernelPath)}</kernel>
            <initrd>{SecurityElement.Escape(guest.Guest.InitrdPath)}</initrd>
            <cmdline>{SecurityElement.Escape(DefaultGuestCommandLine.Shell())}</cmdline>
          </os>
          <devices>
            <disk type='volume' device='disk'>
              <driver name='qemu'/>
              <source pool='{pool}' volume='{volume}'/>
              <target dev='vda' bus='virtio'/>
            </disk>
            <serial type='pty'><target port='0'/></serial>
            <console type='pty'><target type='serial' port='0'/></console>
          </devices>
        </domain>
        """;

    private string Vol(string name) => Path.Combine(PoolDir, name);

    private static string Qemu(params string[] arguments)
    {
        var (code, stdout, stderr) = Tool.Run("qemu-img", arguments, seconds: 120);
        Assert.True(code == 0, $"qemu-img {string.Join(' ', arguments)} failed: {stderr}{stdout}");
        return stdout;
    }

    /// <summary>Every name in the pool directory with its length and content hash.</summary>
    private Dictionary<string, string> Snapshot() => Directory.EnumerateFileSystemEntries(PoolDir).ToDictionary(
        f => Path.GetFileName(f),
        f => new FileInfo(f).LinkTarget is { } target ? "-> " + target
            : $"{new FileInfo(f).Length}:{Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(f)))}");

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}
