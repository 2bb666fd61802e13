using System.Text;
using KvmSharp.Devices.Virtio.Fs;
using KvmSharp.State;
using static KvmSharp.Tests.Devices.Virtio.Fs.FuseRig;

namespace KvmSharp.Tests.Devices.Virtio.Fs;

/// <summary>Saving and loading the FUSE session: nodes by their paths below the share, handles reopened, and what is refused.</summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class VirtioFsStateTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("ks-fsstate-").FullName;
    private string Share => Path.Combine(_dir, "share");

    public VirtioFsStateTests()
    {
        Directory.CreateDirectory(Path.Combine(Share, "sub"));
        File.WriteAllText(Path.Combine(Share, "sub", "data.txt"), "saved and restored\n");
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void NodeIdsAndOpenHandlesSurviveASaveAndARestoreIntoANewDevice()
    {
        VirtioFsState state;
        ulong sub, data, handle;
        using (var rig = new FuseRig(Share))
        {
            sub = rig.MustLookup(1, "sub");
            data = rig.MustLookup(sub, "data.txt");
            handle = rig.MustOpen(data, 2);
            rig.Device.Pause();
            state = rig.Device.SaveState();
        }
        Assert.Equal(["", "sub", "sub/data.txt"], state.Nodes.Select(n => n.Path));
        using var restored = new FuseRig(Share, restore: state);
        Assert.Equal(0, restored.Call(GetAttr, sub, Bytes(0u, 0u, 0UL)).Error);   // no INIT again: the session goes on
        Assert.Equal("saved", Encoding.UTF8.GetString(restored.DoRead(handle, 0, 5, data).Data));
        Assert.Equal(0, restored.DoWrite(handle, 0, "SAVED"u8.ToArray(), data).Error);
        Assert.StartsWith("SAVED and", File.ReadAllText(Path.Combine(Share, "sub", "data.txt")));
        var (error, entry) = restored.Call(Lookup, sub, Name("data.txt"));
        Assert.Equal(0, error);
        Assert.Equal(data, NodeId(entry));   // the same inode is the same node after the restore
        var (_, created) = restored.Call(Mkdir, 1, Bytes(0x1EDu, 0u, "new"));
        Assert.True(NodeId(created) > data);   // new ids do not reuse saved ones
    }

    [Fact]
    public void ANodeDeletedOnTheHostMakesTheSaveFailWithItsReason()
    {
        using var rig = new FuseRig(Share);
        ulong sub = rig.MustLookup(1, "sub");
        rig.MustLookup(sub, "data.txt");
        File.Delete(Path.Combine(Share, "sub", "data.txt"));
        var e = Assert.Throws<StateException>(() => rig.Device.SaveState());
        Assert.Contains("deleted or moved out", e.Message);
    }

    [Fact]
    public void ARestoreRefusesPathsThatLeaveTheShareAndAnotherTag()
    {
        VirtioFsState state;
        using (var rig = new FuseRig(Share))
        {
            rig.MustLookup(1, "sub");
            state = rig.Device.SaveState();
        }
        File.WriteAllText(Path.Combine(_dir, "outside.txt"), "x");
        File.CreateSymbolicLink(Path.Combine(Share, "link"), _dir);
        foreach (string path in new[] { "../outside.txt", "link/outside.txt", "/etc/passwd", "sub/../../outside.txt" })
        {
            var forged = state with { Nodes = [state.Nodes[0], new FsNodeState(2, path, 1)] };
            using var device = new VirtioFsDevice("share", Share, false, _ => { });
            var e = Assert.Throws<StateException>(() => device.RestoreState(forged));
            Assert.Contains("cannot be opened again", e.Message);
        }
        using var other = new VirtioFsDevice("other", Share, false, _ => { });
        Assert.Throws<StateException>(() => other.RestoreState(state));
        using var readOnly = new VirtioFsDevice("share", Share, true, _ => { });
        Assert.Throws<StateException>(() => readOnly.RestoreState(state));
    }
}
