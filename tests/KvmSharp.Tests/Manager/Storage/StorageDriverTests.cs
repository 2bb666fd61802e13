using KvmSharp.Manager.Domains;
using KvmSharp.Manager.Storage;
using KvmSharp.Native.Libc;
using KvmSharp.Tests.Manager.Daemon;
using KvmSharp.Tests.Manager.Rpc;

namespace KvmSharp.Tests.Manager.Storage;

/// <summary>The storage driver in process: what pool-build makes, formats that a guest cannot change, persistence across a daemon's restart.</summary>
public sealed class StorageDriverTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvmsharp-storage-driver").FullName;
    private readonly ListLogger _logger = new();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PoolDir => Path.Combine(_dir, "a", "b", "pool");

    private StorageDriver NewDriver() => new(new StateDirectory(Path.Combine(_dir, "state")), _logger);

    [Fact]
    public void BuildMakesTheDirectoryWithItsPermissions()
    {
        var storage = NewDriver();
        var pool = storage.DefinePool($"<pool type='dir'><name>p</name><target><path>{PoolDir}</path>"
                                      + "<permissions><mode>0750</mode><owner>1234</owner><group>2345</group></permissions></target></pool>");
        storage.BuildPool(pool, 0);
        var status = FileStatus.Of(PoolDir);
        Assert.True(status is { IsDirectory: true });
        Assert.Equal(Convert.ToInt32("750", 8), (int)(status!.Value.Mode & 0xFFF));
        Assert.Equal("1234:2345", Tool.Run("stat", ["-c", "%u:%g", PoolDir], seconds: 10).Stdout.Trim());
    }

    [Fact]
    public void AGuestWritingAQcow2HeaderIntoARawVolumeDoesNotMakeItQcow2()
    {
        var storage = NewDriver();
        var pool = storage.DefinePool($"<pool type='dir'><name>p</name><target><path>{PoolDir}</path></target></pool>");
        storage.BuildPool(pool, 0);
        storage.StartPool(pool);
        var volume = storage.CreateVolume(pool, "<volume><name>guest.raw</name><capacity>1048576</capacity></volume>");
        // What a guest can do to its own disk: a qcow2 header naming a host file as its backing file.
        string header = Path.Combine(_dir, "evil.qcow2");
        Assert.Equal(0, Tool.Run("qemu-img", ["create", "-f", "qcow2", "-F", "raw", "-b", "/etc/passwd", header, "1M"], seconds: 60).ExitCode);
        using (var disk = File.OpenWrite(storage.GetVolumePath(volume))) disk.Write(File.ReadAllBytes(header));

        storage.RefreshPool(pool);
        Assert.Equal(VolumeFormat.Raw, storage.Resolve("p", "guest.raw").Format);
        Assert.DoesNotContain("passwd", storage.GetVolumeXml(volume));
        Assert.Equal(1048576UL, storage.GetVolumeInfo(volume).Capacity);
        // A restarted daemon remembers it too.
        var again = NewDriver();
        again.StartPools();
        Assert.Equal(VolumeFormat.Raw, again.Resolve("p", "guest.raw").Format);
    }

    [Fact]
    public void PoolsAndTheirStateSurviveARestartAndMissingThingsAreLibvirtErrors()
    {
        var storage = NewDriver();
        var pool = storage.DefinePool($"<pool type='dir'><name>p</name><target><path>{PoolDir}</path></target></pool>");
        storage.BuildPool(pool, 0);
        storage.StartPool(pool);
        storage.SetAutostart(pool, true);
        storage.CreateVolume(pool, "<volume><name>q</name><capacity>65536</capacity><target><format type='qcow2'/></target></volume>");

        var again = NewDriver();
        Assert.False(again.IsActive(pool));
        again.StartPools();
        Assert.True(again.IsActive(pool));
        Assert.True(again.GetAutostart(pool));
        Assert.Equal((Path.Combine(PoolDir, "q"), VolumeFormat.Qcow2), again.Resolve("p", "q"));

        Assert.Equal(ManagerError.NoStoragePool, Assert.Throws<ManagerException>(() => again.Resolve("nope", "q")).Error);
        Assert.Equal(ManagerError.NoStorageVol, Assert.Throws<ManagerException>(() => again.Resolve("p", "nope")).Error);
        again.DestroyPool(pool);
        var inactive = Assert.Throws<ManagerException>(() => again.Resolve("p", "q"));
        Assert.Equal("Requested operation is not valid: storage pool 'p' containing volume 'q' is not active", inactive.Message);
    }
}
